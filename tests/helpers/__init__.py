"""What several test files share: signing in the app's one way and people who answer (signin), server metadata
(metadata), accounts written straight into the stores (records), the command line as a process (cli), and the
renewal workers a profile has running (workers)."""
