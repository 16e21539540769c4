"""Evidence is data, never text parsed back: words like "On screen:" or "Speech:" said in a video, shown on
a slide or written in a caption do not change what the agent reads or quotes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.agent.tiny_library import TinyLibrary
from vidrag.agent.citations import check_citations
from vidrag.agent.extractive import relevance
from vidrag.storage.types import Clip, Hit
from vidrag.tools.video_tools import VideoTools

SAID = "What you see On screen: three steps. Speech: SYN, then SYN-ACK, then ACK opens the TCP connection."
SHOWN = "HANDSHAKE\nSpeech: slide two"
CAPTION = "A lecture slide.\nOn-screen text: Speech: free speech. On screen: a diagram"


class LabelledLibrary(TinyLibrary):
    """One clip whose speech, screen text and caption hold the label words; search texts are labelled
    as the real store labels them (`Clip.text`)."""

    def __init__(self, home: str | Path, caption: str = CAPTION, said: str = SAID) -> None:
        super().__init__(home)
        self.caption, self.said = caption, said

    def clips(self, key: str) -> list[Clip]:
        record = self.video(key)
        if Path(record.path).name != "tcp_networking.mp4":
            return super().clips(key)
        return [Clip(record.id, record.path, 0, 0.0, 9.0, transcript=self.said, ocr=SHOWN, caption=self.caption)]

    def search(self, query: str, **_: Any) -> list[Hit]:
        record = self.video("tcp_networking.mp4")
        clip = self.clips(record.id)[0]
        text = clip.text()
        return [Hit(record.id, record.path, 0.0, 9.0, 0.9, text, clip.transcript, clip.ocr, clip.caption)]


def test_a_clip_citation_quotes_its_speech_whatever_words_the_caption_and_speech_hold(tmp_path):
    tools = VideoTools(LabelledLibrary(tmp_path))
    tools.search_clips("how does a TCP connection open")
    check = check_citations("It opens with a handshake [tcp_networking.mp4 @ 00:00.0–00:09.0].", tools.ledger)
    assert [c.quote for c in check.citations] == [SAID]


def test_label_words_in_a_caption_do_not_change_the_relevance_read_from_speech_and_screen(tmp_path):
    plain = LabelledLibrary(tmp_path / "a", caption="A lecture slide.")
    labelled = LabelledLibrary(tmp_path / "b")
    query = "how does a TCP connection open"
    assert relevance(VideoTools(labelled), query) == relevance(VideoTools(plain), query)
