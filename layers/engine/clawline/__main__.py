import sys

from clawline.cli import main

sys.exit(main())
