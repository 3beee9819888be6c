"""Run the `consortia` command as `python -m consortia`."""

from consortia.cli.main import main

main()
