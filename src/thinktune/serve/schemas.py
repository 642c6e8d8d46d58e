"""The OpenAI chat-completions request, typed (pydantic), with the fields reasoning servers added.

Unknown fields are accepted and ignored (as the OpenAI API and vLLM do for fields they do not use); a
field of the wrong type or out of range is a 400 that names it. thinktune's own fields arrive through the
`openai` client's `extra_body` and land at the top level of the JSON body: `strategy`, `strategy_options`,
`thinking_token_budget`, `chat_template_kwargs`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions`."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    n: int = Field(default=1, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = Field(default=None, validate_default=True)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    thinking_token_budget: int | None = Field(default=None, ge=0)
    strategy: str | None = None
    strategy_options: dict[str, Any] | None = None

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> list[str]:
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        return [s for s in stops if s]

    def token_cap(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def wants_thinking(self) -> bool:
        """False when the request asks for a direct answer (`enable_thinking: false` or effort `none`)."""
        if self.chat_template_kwargs and self.chat_template_kwargs.get("enable_thinking") is False:
            return False
        return self.reasoning_effort != "none"


class FeedbackRequest(BaseModel):
    """`POST /v1/traces/{id}/feedback`."""

    score: float = Field(ge=0.0, le=1.0)
    comment: str | None = Field(default=None, max_length=10_000)
