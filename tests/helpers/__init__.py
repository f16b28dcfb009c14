"""What several test files share: signing in the app's one way, stores that keep nothing, people who answer."""
