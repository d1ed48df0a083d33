"""The Textual user interface: the course and the hex-dump inspector.

- `simulator.tui.course.CourseApp`: `wirelab`, `wirelab learn`, `wirelab teach` and
  `wirelab follow` — the home, lesson and sandbox screens, a class followed live.
- `simulator.tui.app.InspectorApp`: `wirelab inspect` and `wirelab serve` — packet
  list, field tree and linked hex pane over a model from `simulator.views`.

Screens are in `screens/`, one per mode; the other modules are their widgets.
Only this package imports Textual; nothing imports it but the command line. The
package itself imports nothing, so the home screen starts without the inspector
(or the simulated network) loaded.
"""
