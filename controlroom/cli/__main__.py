"""`python -m controlroom.cli` is the `controlroom` command (as `python -m controlroom` is)."""

from controlroom.cli import main

if __name__ == "__main__":  # not when merely imported (the import-hygiene walk imports it)
    main()
