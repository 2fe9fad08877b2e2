from multiview.cli.main import main

raise SystemExit(main())
