"""Screens, one per mode: the course's (home, lesson, sandbox), the inspector's, and modals."""
