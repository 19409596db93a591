import sys

from tests.e2e.aws_standin.server import main

main(sys.argv[1:])
