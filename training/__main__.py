from training.cli.main import main

raise SystemExit(main())
