"""``python -m ember.sweep CONFIG [--address ADDR] [...]``"""

import sys

from .run import main

sys.exit(main())
