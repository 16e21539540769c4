"""Intake rules on real files: server paths under allowed roots, upload names and content sniffing."""

import io
import os

import pytest

from tests.media import video_no_audio
from vidrag.storage.errors import Forbidden, InputError, TooLarge
from vidrag.tools.intake import image_under, looks_like_video, safe_name, store_upload, video_files_under


@pytest.fixture
def root(tmp_path):
    (tmp_path / "root" / "talks").mkdir(parents=True)
    (tmp_path / "root" / "talks" / "a.mp4").write_bytes(b"\x00")
    (tmp_path / "root" / "talks" / "notes.txt").write_text("x")
    (tmp_path / "root" / "face.png").write_bytes(b"\x89PNG")
    (tmp_path / "outside.mp4").write_bytes(b"\x00")
    os.symlink(tmp_path / "outside.mp4", tmp_path / "root" / "talks" / "escape.mp4")
    return tmp_path / "root"


def test_a_folder_gives_its_videos_but_not_links_out_of_the_roots(root):
    assert video_files_under(str(root), [root]) == [str(root / "talks" / "a.mp4")]


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        ("/etc/passwd", Forbidden, "outside the allowed roots"),
        ("relative/a.mp4", InputError, "must be absolute"),
        ("{root}/talks/../talks/a.mp4", Forbidden, "must not contain '..'"),
        ("{root}/talks/escape.mp4", Forbidden, "outside the allowed roots"),
        ("{root}/missing", InputError, "no such file or folder"),
    ],
)
def test_bad_server_paths_are_refused(root, raw, error, message):
    with pytest.raises(error, match=message):
        video_files_under(raw.format(root=root), [root])


def test_no_roots_means_no_server_paths(root):
    with pytest.raises(Forbidden, match="set VIDRAG_ALLOWED_ROOTS"):
        video_files_under(str(root), [])
    with pytest.raises(Forbidden, match="server paths are disabled"):
        image_under(str(root / "face.png"), [])


def test_portraits_must_be_images_under_the_roots(root):
    assert image_under(str(root / "face.png"), [root]) == str(root / "face.png")
    with pytest.raises(InputError, match="PNG, JPEG or WebP"):
        image_under(str(root / "talks" / "a.mp4"), [root])


def test_upload_names_are_made_harmless_and_get_a_video_suffix():
    assert safe_name("../../etc/talk <1>.mp4", b"") == "talk _1_.mp4"
    assert safe_name("clip", b"\x1a\x45\xdf\xa3") == "clip.webm"
    assert safe_name("", b"") == "upload.mp4"


def test_container_signatures():
    assert looks_like_video(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 20)
    assert looks_like_video(b"\x1a\x45\xdf\xa3" + b"\x00" * 20)
    assert not looks_like_video(b"This is text, not a video." * 10)


def test_a_real_upload_is_kept_by_content_hash_and_a_fake_one_is_not(tmp_path):
    clip = video_no_audio(tmp_path, seconds=1.0)
    stored, video_id = store_upload(io.BytesIO(clip.read_bytes()), "My Talk.mp4", tmp_path / "uploads", 50 << 20)
    assert stored == tmp_path / "uploads" / video_id / "My Talk.mp4" and stored.read_bytes() == clip.read_bytes()
    with pytest.raises(TooLarge):
        store_upload(io.BytesIO(clip.read_bytes()), "x.mp4", tmp_path / "uploads", 1000)
    with pytest.raises(InputError, match="not a video"):
        store_upload(io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 100), "x.mp4", tmp_path / "uploads", 1 << 20)
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == [video_id]
