import sys

from webapp.config.embedded_postgres import main

sys.exit(main(sys.argv[1:]))
