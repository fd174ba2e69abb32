import sys

from keras_ssmctb.cli import main

sys.exit(main())
