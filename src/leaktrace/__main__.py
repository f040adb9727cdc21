from leaktrace.cli import main

main()
