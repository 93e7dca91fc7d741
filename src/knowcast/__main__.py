from knowcast.cli import main

main()
