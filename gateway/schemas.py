"""OpenAI request shapes, validated strictly enough to name the offending parameter.

Unknown top-level fields are allowed and passed through to the upstream (providers add their
own); known fields are type-checked the way OpenAI checks them (no "0.5" for a number).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictInt, StrictStr, Tag, field_validator, model_validator

Number = Annotated[float, Field(strict=True)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionDef(_Open):
    name: StrictStr = Field(min_length=1, max_length=64)
    description: StrictStr | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class FunctionTool(_Open):
    type: Literal["function"] = "function"
    function: FunctionDef


class CustomToolDef(_Open):
    name: StrictStr = Field(min_length=1, max_length=64)


class CustomTool(_Open):
    """A free-form tool (OpenAI `type: "custom"`, GPT-5's apply_patch and the like): its input is
    text, optionally shaped by a grammar, rather than JSON arguments."""

    type: Literal["custom"]
    custom: CustomToolDef


def _tool_kind(value: Any) -> str:
    kind = value.get("type", "function") if isinstance(value, dict) else getattr(value, "type", "function")
    return "custom-tool" if kind == "custom" else "function-tool"  # any other type fails as a function tool


# Tags end in "-tool": gateway.body.validate leaves them out of an error's parameter path.
Tool = Annotated[Annotated[FunctionTool, Tag("function-tool")] | Annotated[CustomTool, Tag("custom-tool")], Discriminator(_tool_kind)]


class ToolCallFunction(_Open):
    name: StrictStr
    arguments: StrictStr


class FunctionToolCall(_Open):
    id: StrictStr
    type: Literal["function"] = "function"
    function: ToolCallFunction


class CustomToolCallInput(_Open):
    name: StrictStr
    input: StrictStr


class CustomToolCall(_Open):
    id: StrictStr
    type: Literal["custom"]
    custom: CustomToolCallInput


ToolCall = Annotated[Annotated[FunctionToolCall, Tag("function-tool")] | Annotated[CustomToolCall, Tag("custom-tool")], Discriminator(_tool_kind)]


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: StrictStr | list[dict[str, Any]] | None = None
    name: StrictStr | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: StrictStr | None = None

    @model_validator(mode="after")
    def _content_rules(self) -> ChatMessage:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("messages with role 'tool' need a tool_call_id")
        if self.content is None and self.role != "assistant":
            raise ValueError(f"messages with role '{self.role}' need content")
        return self


class JsonSchemaFormat(_Open):
    name: StrictStr = Field(min_length=1, max_length=64)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_present(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format of type json_schema needs a json_schema object")
        return self


class StreamOptions(_Open):
    include_usage: StrictBool | None = None


class _SamplingParams(_Open):
    model: StrictStr = Field(min_length=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: StrictInt = Field(default=1, ge=1, le=128)
    stop: StrictStr | list[StrictStr] | None = None
    seed: StrictInt | None = None
    temperature: Number | None = Field(default=None, ge=0, le=2)
    top_p: Number | None = Field(default=None, ge=0, le=1)
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    presence_penalty: Number | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: Number | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, Number] | None = None
    user: StrictStr | None = None

    @field_validator("stop")
    @classmethod
    def _at_most_four(cls, stop: str | list[str] | None) -> str | list[str] | None:
        if isinstance(stop, list) and len(stop) > 4:
            raise ValueError("at most 4 stop sequences")
        return stop


class ChatCompletionRequest(_SamplingParams):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)
    tools: list[Tool] | None = None
    tool_choice: StrictStr | dict[str, Any] | None = None
    parallel_tool_calls: StrictBool | None = None
    response_format: ResponseFormat | None = None
    logprobs: StrictBool | None = None
    top_logprobs: StrictInt | None = Field(default=None, ge=0, le=20)
    metadata: dict[StrictStr, StrictStr] | None = None

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(choice, str) and choice not in ("none", "auto", "required"):
            raise ValueError("tool_choice must be 'none', 'auto', 'required' or a named function")
        return choice

    @property
    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_SamplingParams):
    prompt: StrictStr | list[StrictStr] | list[StrictInt] | list[list[StrictInt]]
    echo: StrictBool | None = None
    logprobs: StrictInt | None = Field(default=None, ge=0, le=5)
    suffix: StrictStr | None = None
    best_of: StrictInt | None = Field(default=None, ge=1, le=20)

    @field_validator("prompt")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and (not value or any(isinstance(v, list) and not v for v in value)):
            raise ValueError("prompt must not be empty")
        return value


class EmbeddingRequest(_Open):
    model: StrictStr = Field(min_length=1)
    input: StrictStr | list[StrictStr] | list[StrictInt] | list[list[StrictInt]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: StrictInt | None = Field(default=None, ge=1)
    user: StrictStr | None = None

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("input must not be empty")
        return value
