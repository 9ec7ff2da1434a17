from tinyscene.cli import main

raise SystemExit(main())
