"""Split generated text into the thinking and the answer as it streams, the way vLLM's reasoning parsers
hand `reasoning_content` and `content` to clients.

Text inside `<think>…</think>` is reasoning; text inside `<answer>…</answer>` (or, when the model writes no
answer tags, whatever follows the thinking) is content; the tags themselves are never sent. A prompt whose
chat template already opened `<think>` starts in the thinking state. Tags split across deltas, and white
space at the edges of each part, are held back until the next piece shows what they are, so the streamed
parts joined equal the parts of the whole text, stripped.

    >>> s = ReasoningSplitter()
    >>> [s.feed(piece) for piece in ("<think>\\n12 + 30", " = 42\\n</thi", "nk>\\n<answer>\\n42\\n</answer>")]
    [('12 + 30', ''), (' = 42', ''), ('', '42')]
    >>> split_reasoning("<think>\\nsteps\\n</think>\\n<answer>\\n7\\n</answer>")
    ('steps', '7')
    >>> split_reasoning("just an answer"), split_reasoning("cut off while thinking", starts_thinking=True)
    ((None, 'just an answer'), ('cut off while thinking', ''))
    >>> split_reasoning("so <answer> 5 </answer> and more")
    (None, 'so 5')
"""

from __future__ import annotations

from thinktune.format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN


class ReasoningSplitter:
    """Feed text pieces, get `(reasoning_delta, content_delta)` back; `finish()` flushes what was held."""

    def __init__(self, starts_thinking: bool = False) -> None:
        self.state = "thinking" if starts_thinking else "start"
        self.buffer = ""
        self.saw_thinking = starts_thinking
        self.fresh = True  # at the start of a part: leading white space is dropped
        self.sep = ""  # put before the next text (prose followed by a tagged answer)

    def feed(self, text: str) -> tuple[str, str]:
        self.buffer += text
        return self._consume(final=False)

    def finish(self) -> tuple[str, str]:
        return self._consume(final=True)

    def _consume(self, final: bool) -> tuple[str, str]:
        reasoning, content = [], []
        while True:
            if self.state in ("start", "between"):
                stripped = self.buffer.lstrip()
                opens = [THINK_OPEN, ANSWER_OPEN] if self.state == "start" else [ANSWER_OPEN]
                tag = next((t for t in opens if stripped.startswith(t)), None)
                if tag is not None:
                    self.buffer = stripped[len(tag):]
                    self.state = "thinking" if tag == THINK_OPEN else "answer"
                    self.saw_thinking |= tag == THINK_OPEN
                    self.fresh = True
                    continue
                if not stripped or (not final and any(t.startswith(stripped) for t in opens)):
                    self.buffer = stripped
                    break
                self.buffer, self.state, self.fresh = stripped, "content", True
                continue
            if self.state == "after":
                self.buffer = ""
                break
            close = {"thinking": THINK_CLOSE, "answer": ANSWER_CLOSE, "content": ANSWER_CLOSE}[self.state]
            out = reasoning if self.state == "thinking" else content
            i = self.buffer.find(close)
            if self.state == "content" and ANSWER_OPEN in self.buffer[: i if i >= 0 else None]:
                # prose, then a tagged answer: both are content (streamed prose cannot be taken back)
                j = self.buffer.find(ANSWER_OPEN)
                content.append(self._emit(self.buffer[:j].rstrip()))
                self.buffer, self.state = self.buffer[j + len(ANSWER_OPEN):], "answer"
                self.sep, self.fresh = (" " if not self.fresh else ""), True
                continue
            if i >= 0:
                out.append(self._emit(self.buffer[:i].rstrip()))
                self.buffer = self.buffer[i + len(close):]
                self.state = "between" if self.state == "thinking" else "after"
                self.fresh = True
                continue
            if final:
                out.append(self._emit(self.buffer.rstrip()))
                self.buffer = ""
                break
            hold = _held(self.buffer, [close, ANSWER_OPEN] if self.state == "content" else [close])
            piece = self.buffer[: len(self.buffer) - hold]
            body = piece.rstrip()  # trailing white space waits: it may sit just before the closing tag
            out.append(self._emit(body))
            self.buffer = piece[len(body):] + self.buffer[len(piece):]
            break
        return "".join(reasoning), "".join(content)

    def _emit(self, text: str) -> str:
        if self.fresh:
            text = text.lstrip()
            if text:
                self.fresh = False
        if text and self.sep:
            text, self.sep = self.sep + text, ""
        return text


def _held(text: str, tags: list[str]) -> int:
    """How many trailing characters of `text` could be the start of one of `tags`."""
    return max((k for tag in tags for k in range(1, len(tag)) if text.endswith(tag[:k])), default=0)


def split_reasoning(text: str, starts_thinking: bool = False) -> tuple[str | None, str]:
    """(reasoning or None when there was no thinking, content) of a whole completion."""
    s = ReasoningSplitter(starts_thinking)
    r1, c1 = s.feed(text)
    r2, c2 = s.finish()
    reasoning = (r1 + r2).strip()
    return (reasoning if s.saw_thinking else None), (c1 + c2).strip()
