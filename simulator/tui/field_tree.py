"""The field tree: a dissection's layers and fields, each `label: value`, problems marked."""

from __future__ import annotations

import re
from typing import ClassVar, Self

from rich.text import Text
from textual.geometry import Region, Size
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from simulator.dissect import Dissection, Field
from simulator.lessons.checkpoints import NOTHING, Withheld
from simulator.tui.panes import quiet_virtual_size
from simulator.views.withheld import field_line, hide_anywhere, kin, redact

# "WebSocket frame 10.0.0.1:5000 → 10.0.0.2:80 (20 bytes, packet 8)": the part in parentheses
_TRAILING_DETAILS = re.compile(r" \([^()]*\)$")


class FieldTree(Tree[Field]):
    """A `Tree` of `Field`s; `show` fills it, `select_field` moves the cursor to a field.

    Its size comes from the stylesheet, never from its lines: filling it repaints it
    and its scroll bars, with no layout of the screen (as `QuietScrollView`).
    """

    virtual_size = quiet_virtual_size()

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "field-tree--problem",
        "field-tree--elsewhere",
    }

    DEFAULT_CSS = """
    FieldTree > .field-tree--problem { color: $text-error; text-style: bold; }
    FieldTree > .field-tree--elsewhere { color: $text-muted; }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__("fields", name=name, id=id, classes=classes)
        self.show_root = False
        self.guide_depth = 3
        self.auto_expand = False
        self.dissection: Dissection | None = None
        self.withheld: Withheld = NOTHING
        self.packet: int | None = None  # the capture index shown, for what is withheld
        self._kin: set[int] = set()  # id() of the fields above and below the one withheld
        self._field_nodes: dict[int, TreeNode[Field]] = {}  # id(field) → its node
        self._filling = False

    def show(
        self,
        dissection: Dissection | None,
        *,
        withheld: Withheld = NOTHING,
        packet: int | None = None,
    ) -> None:
        """Replace the tree with `dissection`'s fields, no field selected.

        The messages the packet completed are open, or else its top-most layer;
        the layers below are closed (one key opens them). A field `withheld`
        (the answer to a checkpoint about capture packet `packet`) shows no value.
        Showing what is already shown does nothing: the tree is not rebuilt.
        """
        if (dissection, withheld, packet) == (self.dissection, self.withheld, self.packet) and (
            dissection is None or self._field_nodes
        ):
            return
        self.unselect()
        self.clear()
        self._field_nodes.clear()
        self.dissection = dissection
        self.withheld = withheld
        self.packet = packet
        self._kin = set()
        if dissection is None:
            return
        if withheld.field is not None and packet == withheld.packet:
            self._kin = kin(dissection, withheld.field)
        messages = any(field.buffer != 0 for field in dissection.fields)
        last = dissection.fields[-1] if dissection.fields else None
        for field in dissection.fields:
            is_open = field.buffer != 0 if messages else field is last
            self._add(self.root, field, is_open, parent_buffer=0)

    def _add(
        self, parent: TreeNode[Field], field: Field, is_open: bool, *, parent_buffer: int
    ) -> None:
        label = self.field_label(field, tag_buffer=field.buffer != parent_buffer)
        if field.children:
            node = parent.add(label, data=field, expand=is_open)
            for child in field.children:
                self._add(node, child, is_open, parent_buffer=field.buffer)
        else:
            node = parent.add_leaf(label, data=field)
        self._field_nodes[id(field)] = node

    def line_for(self, field: Field) -> str:
        """`field`'s line as this tree shows it (a withheld value hidden)."""
        return field_line(field, self.withheld, packet=self.packet, kin=id(field) in self._kin)

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted and self.container_size:
            self._scroll_update(size)
            self.refresh()

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        """As `Widget.refresh`, but new lines never lay the screen out (see the class)."""
        if layout and self._filling:
            layout = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _invalidate(self) -> None:
        self._filling = True  # lines added, removed, opened or closed: a repaint
        try:
            super()._invalidate()
        finally:
            self._filling = False

    def field_label(self, field: Field, *, tag_buffer: bool = True) -> Text:
        """The field as a tree line; `tag_buffer` names the buffer its bytes are in
        (for the first field of a branch that moves to another buffer)."""
        text = Text(self.line_for(field))
        if tag_buffer and field.buffer and self.dissection is not None:
            buffers = self.dissection.buffers
            if 0 <= field.buffer < len(buffers) and buffers[field.buffer].name not in field.label:
                # Without the details in parentheses (size, packets): the Bytes title has them.
                name = _TRAILING_DETAILS.sub("", buffers[field.buffer].name)
                if self.packet == self.withheld.packet:
                    name = redact(name, self.withheld, asked=False)
                elsewhere = self.get_component_rich_style("field-tree--elsewhere", partial=True)
                text.append(f"  [{name}]", elsewhere)
        if field.problem:
            problem = self.get_component_rich_style("field-tree--problem", partial=True)
            text.stylize(problem)
            text.append(f"  ⚠ {hide_anywhere(field.problem, self.withheld)}", problem)
        return text

    @property
    def field(self) -> Field | None:
        """The field under the cursor."""
        node = self.cursor_node if self.cursor_line >= 0 else None
        return node.data if node is not None else None

    def select_field(self, field: Field | None) -> None:
        """Move the cursor to `field` (a field of the dissection shown), opening its parents."""
        if field is None:
            self.unselect()
            return
        node = self._field_nodes.get(id(field))
        if node is None:
            return
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        _ = self.last_line  # lay the tree out again, so the node knows its line
        self.move_cursor(node)
        self.centre(node)

    def centre(self, node: TreeNode[Field]) -> None:
        """Scroll so `node`'s line sits mid-view where the tree allows (a pane that is
        resized or shown later does it then: see `on_resize`)."""
        self._centre_now(node)

    def on_resize(self) -> None:
        """A pane shown again (or resized) keeps its field in sight."""
        node = self.cursor_node if self.cursor_line >= 0 else None
        if node is not None:
            self._centre_now(node)

    def _centre_now(self, node: TreeNode[Field]) -> None:
        height = self.scrollable_content_region.height
        if self.cursor_node is not node or node.line < 0 or height <= 0:
            return
        target = max(0, min(node.line - (height - 1) // 2, self.max_scroll_y))
        if round(self.scroll_y) != target:
            self.scroll_to(y=target, animate=False, immediate=True)

    def holds(self, node: TreeNode[Field]) -> bool:
        """Whether `node` is in the tree now (a highlight posted before `show` is stale)."""
        return node.data is not None and self._field_nodes.get(id(node.data)) is node

    def find(self, name: str) -> Field | None:
        """The first field called `name` in the dissection shown."""
        return self.dissection.find(name) if self.dissection is not None else None
