"""The inspector's screens: one per mode, plus its modals."""
