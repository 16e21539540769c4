"""Talking-head generation: a portrait and a script in, an mp4 of that person speaking it out.

FramePack (diffusers' HunyuanVideoFramepackPipeline) animates the portrait; it takes no audio, so a
text-to-speech voice is made first and sets the video's length. A `TalkingHeadRequest` carries one
generation's parameters from the CLI, the REST API or the agent tool to `generate_talking_head`;
`TalkingHeadPipeline` is the reusable orchestrator, `load_framepack` the real model loader and
`tiny_pipeline` the weight-free stand-in for tests and demos. Heavy libraries (torch, diffusers,
transformers) load only when a function needs them.
"""

from vidrag.tools.talking_head.framepack import MEMORY_MODES, VARIANTS, get_variant, load_framepack
from vidrag.tools.talking_head.make import build_talking_head, generate_talking_head, tiny_pipeline
from vidrag.tools.talking_head.media import probe
from vidrag.tools.talking_head.pipeline import (
    DEFAULT_PROMPT,
    Cancelled,
    CommandLipSync,
    LipSync,
    MotionSettings,
    TalkingHeadPipeline,
    TalkingHeadResult,
)
from vidrag.tools.talking_head.request import TalkingHeadRequest
from vidrag.tools.talking_head.sections import SectionPlan, bucket_size, plan_sections
from vidrag.tools.talking_head.tts import EspeakVoice, TransformersVoice, Voice, make_voice

__all__ = [
    "DEFAULT_PROMPT",
    "MEMORY_MODES",
    "VARIANTS",
    "Cancelled",
    "CommandLipSync",
    "EspeakVoice",
    "LipSync",
    "MotionSettings",
    "SectionPlan",
    "TalkingHeadPipeline",
    "TalkingHeadRequest",
    "TalkingHeadResult",
    "TransformersVoice",
    "Voice",
    "bucket_size",
    "build_talking_head",
    "generate_talking_head",
    "get_variant",
    "load_framepack",
    "make_voice",
    "plan_sections",
    "probe",
    "tiny_pipeline",
]
