"""The key footer, recomposed only when the keys it shows change.

Textual's footer rebuilds every key widget whenever any binding might have changed: at start-up
focus, screen and callback updates ask three times for the same keys, and each rebuild
re-styles every key (about 20 ms each on a 2-core machine, before the first frame). It leans
on `_bindings_ready`, private to Textual: the pinned Textual version keeps it stable.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from textual.widgets import Footer


class KeysFooter(Footer):
    _shown: Hashable = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Textual's footer composes empty and waits for a bindings signal to show the keys;
        # these are known at compose time, so the first frame shows them already.
        self._bindings_ready = True

    def _keys(self) -> Hashable:
        return (
            self.compact,
            self.show_command_palette,
            tuple(
                (binding.key, self.app.get_key_display(binding), binding.description, on, tip)
                for _, binding, on, tip in self.screen.active_bindings.values()
                if binding.show
            ),
        )

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        keys = self._keys()
        if keys == self._shown and self.children:
            return
        self._shown = keys
        await super().recompose()
