import sys

from smartlib_server.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]] if len(sys.argv) == 1 or sys.argv[1].startswith("-") else sys.argv[1:]))
