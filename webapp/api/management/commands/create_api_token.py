from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from webapp.api.services import SCOPE_ORDER, token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it (it is stored hashed, shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="a name to recognise the token by")
        parser.add_argument(
            "--scope",
            action="append",
            choices=SCOPE_ORDER,
            help="read, write or admin (repeatable; default: read)",
        )

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        try:
            token, secret = token_create(
                user=user, name=options["name"], scopes=options["scope"] or ["read"]
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stderr.write(f"token {token.name!r} for {user.username}, scopes {token.scopes}")
        self.stdout.write(secret)
