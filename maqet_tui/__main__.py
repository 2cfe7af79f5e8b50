import sys

from maqet_tui.entry import main

sys.exit(main())
