"""Launch the tutor's web app: python app.py [--host H] [--port P] [--auth user:pass ...] [--data-dir D]
[--notes DIR] [--allow-uploads] [--share]"""

import argparse
import sys

from tutor.errors import TutorError
from tutor.ui import launch


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="PyTorch interview tutor (web app)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--auth", action="append", metavar="USER:PASS",
                        help="require a login; repeat for several users, each sees only their own progress")
    parser.add_argument("--data-dir", help="where progress is saved (default: your user data folder; "
                                           "or TUTOR_DATA_DIR)")
    parser.add_argument("--notes", help="folder of your own notes (default: notes/ in the user data folder; "
                                         "or TUTOR_NOTES_DIR)")
    parser.add_argument("--allow-uploads", action="store_true",
                        help="with --auth, let users upload notes (shared by all users); always on without --auth")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    try:
        launch(**vars(parse()))
    except TutorError as exc:
        sys.exit(f"tutor: {exc}")
