"""Launch the tutor's web app (a placeholder until the browser app lands: it answers from the CLI)."""

from tutor.cli import main

if __name__ == "__main__":
    main(["ask", "What is autograd?"])
