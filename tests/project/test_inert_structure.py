"""Outside text reaches the screen through widgets.inert only: read from the source of every
module that builds the screen, so a new widget that would put a str on it fails here (and the
helpers' Inert signatures then make mypy check every call)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOORS = {"widgets/inert.py", "widgets/inert_forms.py"}
# Textual widgets that show none of our text, or only what Textual itself writes.
ALLOWED_TEXTUAL_WIDGETS = {"Footer"}
TEXT_ATTRIBUTES = {"border_title", "border_subtitle", "title", "sub_title", "tooltip"}


def screen_modules() -> list[Path]:
    modules = [p for p in sorted((ROOT / "widgets").glob("*.py"))]
    modules.append(ROOT / "cockpit" / "app.py")
    return [p for p in modules if str(p.relative_to(ROOT)) not in DOORS]


def problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = path.relative_to(ROOT)
    found: list[str] = []

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{name}:{getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            names = {a.name for a in node.names}
            if module == "rich" or module.startswith("rich."):
                say(node, f"imports {module}: build text with widgets.inert")
            if module == "textual.content":
                say(node, "imports textual.content: use widgets.inert.text / InertContent")
            if module == "textual.widgets":
                for bad in sorted(names - ALLOWED_TEXTUAL_WIDGETS):
                    say(node, f"imports textual.widgets.{bad}: use its Inert version")
            if module == "textual.command" and names & {"Hit", "DiscoveryHit"}:
                say(node, "builds palette hits itself: use widgets.inert.hit")
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "rich":
                    say(node, "imports rich")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                if func.attr in ("notify", "copy_to_clipboard"):
                    overriding = (
                        isinstance(func.value, ast.Call)
                        and isinstance(func.value.func, ast.Name)
                        and func.value.func.id == "super"
                        and str(name) == "cockpit/app.py"
                    )
                    if not overriding:
                        say(node, f".{func.attr}(): use widgets.inert.toast / clip")
                if func.attr in ("from_markup", "from_rich_text", "assemble"):
                    say(node, f".{func.attr}(): build text with widgets.inert.text")
            if isinstance(func, ast.Name) and func.id in ("InertContent", "Content", "Text"):
                say(node, f"{func.id}(...): only widgets.inert makes Content")
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in TEXT_ATTRIBUTES:
                    say(node, f"sets .{target.attr}: use widgets.inert.set_border")
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                border = isinstance(item, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id in ("BORDER_TITLE", "BORDER_SUBTITLE")
                    for t in item.targets
                )
                literal = isinstance(item, ast.Assign) and (
                    isinstance(item.value, ast.Constant) and isinstance(item.value.value, str)
                )
                if border and not literal:
                    say(item, "a border title that is not a literal of ours")
                if isinstance(item, ast.FunctionDef) and item.name in ("render", "render_line"):
                    returns = ast.unparse(item.returns) if item.returns else ""
                    if item.name == "render" and returns != "InertContent":
                        say(item, f"{node.name}.render() must return InertContent, not {returns}")
                    if item.name == "render_line":
                        say(item, f"{node.name}.render_line(): render Inert content instead")
    return found


def test_every_screen_module_goes_through_the_inert_door() -> None:
    modules = screen_modules()
    assert any(p.name == "panels.py" for p in modules) and any(p.name == "app.py" for p in modules)
    found = [problem for path in modules for problem in problems(path)]
    assert found == []


def test_the_check_itself_catches_a_careless_widget(tmp_path: Path) -> None:
    careless = tmp_path / "widgets" / "careless.py"
    careless.parent.mkdir()
    careless.write_text(
        "from textual.content import Content\n"
        "from textual.widgets import Label, Static\n"
        "from textual.widget import Widget\n"
        "class Careless(Widget):\n"
        "    BORDER_TITLE = make()\n"
        "    def render(self) -> Content:\n"
        "        self.notify(self.issue.title)\n"
        "        self.border_title = self.issue.title\n"
        "        return Content.from_markup(self.issue.title)\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = problems(careless)
    finally:
        ROOT = saved
    text = "\n".join(found)
    for expected in (
        "imports textual.content",
        "textual.widgets.Label",
        "textual.widgets.Static",
        "a border title that is not a literal",
        "render() must return InertContent",
        ".notify()",
        "sets .border_title",
        ".from_markup()",
    ):
        assert expected in text, text
