"""Wiring for the window: arguments → logging → QApplication + qasync loop → profile → main window."""
