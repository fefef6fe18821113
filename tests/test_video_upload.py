"""Uploaded exercise videos: the therapist uploads an MP4 in the library editor, plans
point at it, clients play it inline (byte ranges for iPhone Safari), seed_demo adds one."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client as Browser
from django.urls import reverse

from aftercare.management.commands import seed_demo
from aftercare.models import Exercise, PlanStep
from clients.models import Practice
from tests import factories
from tests.test_therapist_pages import exercise_data, field_error, text

DEMO = seed_demo.DEMO_VIDEO.read_bytes()
STORED_NAME = re.compile(r"^videos/[0-9a-f]{32}\.mp4$")


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    """A MEDIA_ROOT of this test's own, so files can be counted."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_videos(media: Path) -> list[str]:
    folder = media / "videos"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def mp4(name: str = "cat-camel.mp4", content: bytes = DEMO) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="video/mp4")


def psoas(practice) -> Exercise:
    return Exercise.objects.get(practice=practice, name="Psoas release")


def upload(browser, exercise: Exercise, file, **overrides):
    url = reverse("therapist-exercise-edit", args=[exercise.pk])
    return browser.post(url, {**exercise_data(video_url="", **overrides), "video_file": file})


def with_video(exercise: Exercise, content: bytes = DEMO) -> str:
    """Give an exercise an uploaded video directly (as the editor would); its stored name."""
    exercise.video_file.save("clip.mp4", ContentFile(content))
    return exercise.video_file.name


def body(response) -> bytes:
    return b"".join(response.streaming_content)


# --- Upload in the library editor --------------------------------------------------------------


def test_it_says_which_video_wins_next_to_the_upload_field(therapist_client, practice):
    response = therapist_client.get(reverse("therapist-exercise-edit", args=[psoas(practice).pk]))
    page = response.content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'type="file" name="video_file"[^>]*accept="video/mp4,.mp4"', page)
    assert "at most 200 MB" in page
    assert "the link is shown: clear it to use the upload" in page


def test_it_saves_an_uploaded_mp4_under_a_random_name(therapist_client, practice, media):
    exercise = psoas(practice)
    response = upload(therapist_client, exercise, mp4("My Psoas Video (final).MP4"))
    assert response.status_code == 302
    exercise.refresh_from_db()
    assert STORED_NAME.match(exercise.video_file.name)
    assert (media / exercise.video_file.name).read_bytes() == DEMO
    assert stored_videos(media) == [Path(exercise.video_file.name).name]
    listing = text(therapist_client.get(reverse("therapist-exercises")))
    assert "video: uploaded MP4" in listing


def test_it_adds_a_new_exercise_with_an_uploaded_video(therapist_client, practice, media):
    response = therapist_client.post(
        reverse("therapist-exercise-add"), {**exercise_data(video_url=""), "video_file": mp4()}
    )
    assert response.status_code == 302
    exercise = Exercise.objects.get(practice=practice, name="Cat-camel")
    assert STORED_NAME.match(exercise.video_file.name)


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (mp4("cat-camel.mov"), "Upload an .mp4 file"),
        (mp4("cat-camel.mp4.exe"), "Upload an .mp4 file"),
        (
            mp4("cat-camel.mp4", b"<html><script>alert(1)</script></html>"),
            "That file isn't an MP4 video",
        ),
        (
            mp4("cat-camel.mp4", b"\x00\x00\x00\x18moov" + b"\x00" * 64),
            "That file isn't an MP4 video",
        ),
        (mp4("cat-camel.mp4", b""), "The submitted file is empty."),
    ],
)
def test_it_refuses_a_file_that_is_not_an_mp4(therapist_client, practice, media, file, message):
    exercise = psoas(practice)
    response = upload(therapist_client, exercise, file, name="Changed name")
    assert response.status_code == 200
    assert field_error(response, "video_file").startswith(message)
    exercise.refresh_from_db()
    assert exercise.name == "Psoas release"
    assert exercise.video_file.name == ""
    assert stored_videos(media) == []


def test_it_refuses_a_video_over_the_size_limit(therapist_client, practice, media, settings):
    settings.VIDEO_UPLOAD_MAX_MB = 1
    big = DEMO[:12] + b"\x00" * (1024 * 1024)
    response = upload(therapist_client, psoas(practice), mp4("long.mp4", big), name="Changed")
    assert response.status_code == 200
    assert field_error(response, "video_file") == (
        "That file is 1 MB; a video can be at most 1 MB. "
        "Export it at a lower resolution (720p is plenty on a phone)."
    )
    assert "at most 1 MB" in text(response)  # the help text follows the setting
    assert psoas(practice).name == "Psoas release"
    assert stored_videos(media) == []


def test_it_keeps_another_practices_therapist_out(client, practice, media):
    stranger = factories.TherapistFactory(practice=factories.PracticeFactory())
    client.force_login(stranger.user, backend="django.contrib.auth.backends.ModelBackend")
    exercise = psoas(practice)
    assert upload(client, exercise, mp4(), name="Hijacked").status_code == 404
    exercise.refresh_from_db()
    assert (exercise.name, exercise.video_file.name) == ("Psoas release", "")
    assert stored_videos(media) == []


def test_it_keeps_anonymous_visitors_out(client, practice, media):
    response = upload(client, psoas(practice), mp4())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("therapist-login"))
    assert stored_videos(media) == []


# --- Plans point at the exercise's file ------------------------------------------------------


def test_a_plan_step_copies_the_exercises_uploaded_video(practice, client_person, therapist):
    name = with_video(psoas(practice))
    plan = factories.plan_for(client_person, therapist)
    step = plan.steps.get(name="Psoas release")
    assert step.video_file.name == name
    assert step.video.kind == "mp4"
    assert step.video.source == f"/media/videos/{Path(name).name}"
    assert step.video.link == f"http://testserver/media/videos/{Path(name).name}"


def test_a_pasted_link_wins_over_the_upload(practice, client_person, therapist):
    exercise = psoas(practice)
    with_video(exercise)
    exercise.video_url = "https://youtu.be/dQw4w9WgXcQ"
    exercise.save()
    step = factories.plan_for(client_person, therapist).steps.get(name="Psoas release")
    assert step.video.kind == "youtube"


def test_a_new_upload_leaves_assigned_plans_their_video(
    therapist_client, practice, plan, media, django_capture_on_commit_callbacks
):
    exercise = psoas(practice)
    first = with_video(exercise)
    PlanStep.objects.filter(plan=plan, exercise=exercise).update(video_file=first)
    other = with_video(Exercise.objects.get(practice=practice, name="Passive SI reset"))

    with django_capture_on_commit_callbacks(execute=True):
        upload(therapist_client, exercise, mp4())
    exercise.refresh_from_db()
    assert exercise.video_file.name not in (first, other)
    # The plan's step still plays the first file, so it is kept.
    assert plan.steps.get(exercise=exercise).video_file.name == first
    assert default_storage.exists(first)

    # Cleared in the library and in the plan: the file nobody points at goes.
    PlanStep.objects.filter(plan=plan, exercise=exercise).update(video_file="")
    second = exercise.video_file.name
    with django_capture_on_commit_callbacks(execute=True):
        response = therapist_client.post(
            reverse("therapist-exercise-edit", args=[exercise.pk]),
            {**exercise_data(video_url=""), "video_file-clear": "on"},
        )
    assert response.status_code == 302
    exercise.refresh_from_db()
    assert exercise.video_file.name == ""
    assert not default_storage.exists(second)
    assert default_storage.exists(other)


# --- The client's Today page -------------------------------------------------------------------


def test_today_offers_the_uploaded_video_to_play_inline_on_tap(phone, plan):
    name = with_video(psoas(plan.client.practice))
    PlanStep.objects.filter(plan=plan, name="Psoas release").update(video_file=name)
    page = phone.get(reverse("client-today")).content.decode()
    src = f"/media/videos/{Path(name).name}"
    # The link client.js turns into <video playsinline> on tap; nothing loads before.
    assert re.search(rf'class="video-load"[^>]*data-kind="mp4" data-src="{src}"', page)
    assert "Watch: Psoas release" in page
    assert "<video" not in page
    script = Path("static/js/client.js").read_text()
    assert 'kind === "mp4"' in script
    assert 'player.setAttribute("playsinline", "")' in script
    # What the player then fetches, as the phone does (with the client's cookie).
    response = phone.get(src, HTTP_RANGE="bytes=0-1")
    assert response.status_code == 206
    assert body(response) == DEMO[:2]
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


# --- Serving: byte ranges for iPhone Safari ------------------------------------------------------


@pytest.fixture
def served(practice) -> str:
    """The URL of an uploaded video."""
    return "/media/videos/" + Path(with_video(psoas(practice))).name


def test_it_serves_the_whole_file_to_anyone(client, served):
    response = client.get(served)
    assert response.status_code == 200
    assert body(response) == DEMO
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(DEMO))
    assert response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-1", 0, 1),  # Safari's first probe
        ("bytes=0-", 0, len(DEMO) - 1),
        ("bytes=100-199", 100, 199),
        ("bytes=1000-", 1000, len(DEMO) - 1),
        ("bytes=-500", len(DEMO) - 500, len(DEMO) - 1),
        ("bytes=8000-999999", 8000, len(DEMO) - 1),
        ("bytes=-999999", 0, len(DEMO) - 1),
    ],
)
def test_it_answers_a_byte_range_with_206(client, served, header, first, last):
    response = client.get(served, HTTP_RANGE=header)
    assert response.status_code == 206
    assert body(response) == DEMO[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(DEMO)}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("header", [f"bytes={len(DEMO)}-", f"bytes={len(DEMO) + 5}-9999999"])
def test_it_answers_a_range_past_the_end_with_416(client, served, header):
    response = client.get(served, HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DEMO)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "bytes=9-3", "items=0-1", "bytes=abc"])
def test_it_sends_the_whole_file_for_a_range_it_does_not_serve(client, served, header):
    response = client.get(served, HTTP_RANGE=header)
    assert response.status_code == 200
    assert body(response) == DEMO


def test_it_honours_if_range(client, served):
    etag = client.get(served)["ETag"]
    assert client.get(served, HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE=etag).status_code == 206
    stale = client.get(served, HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE='"old"')
    assert stale.status_code == 200
    assert body(stale) == DEMO


def test_it_only_reads(client, served):
    assert client.post(served).status_code == 405
    assert client.head(served).status_code == 200


def test_it_answers_404_for_an_unknown_video(client, served, practice, media):
    assert client.get("/media/videos/0123456789abcdef0123456789abcdef.mp4").status_code == 404
    # On disk but no exercise or plan points at it (e.g. replaced and forgotten).
    default_storage.save("videos/orphan.mp4", ContentFile(DEMO))
    assert client.get("/media/videos/orphan.mp4").status_code == 404
    # Pointed at, but the file is gone.
    exercise = psoas(practice)
    (media / exercise.video_file.name).unlink()
    assert client.get(served).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/media/videos/../secret.mp4",
        "/media/videos/..%2Fsecret.mp4",
        "/media/videos/%2e%2e%2fsecret.mp4",
        "/media/videos/..%5Csecret.mp4",
        "/media/videos/%2Fetc%2Fpasswd",
        "/media/videos/..%2F..%2Fdb.sqlite3",
        "/media/videos/secret.mp4%00.mp4",
        "/media/videos/.mp4",
        "/media/secret.mp4",
    ],
)
def test_it_never_serves_a_file_outside_the_videos(client, practice, media, path):
    # A file outside videos/ that an exercise even points at: still unreachable.
    default_storage.save("secret.mp4", ContentFile(DEMO))
    Exercise.objects.filter(pk=psoas(practice).pk).update(video_file="secret.mp4")
    assert client.get(path).status_code == 404


def test_the_today_page_stays_out_of_caches(phone, plan):
    assert "no-store" in phone.get(reverse("client-today"))["Cache-Control"]


# --- The demo ----------------------------------------------------------------------------------


def test_the_demo_video_is_a_small_faststart_mp4():
    assert DEMO[4:8] == b"ftyp"
    assert len(DEMO) < 150 * 1024
    # faststart: the index (moov) comes before the media (mdat), so playback starts at once.
    assert DEMO.index(b"moov") < DEMO.index(b"mdat")


def test_seed_demo_attaches_one_demo_video_and_is_safe_to_run_twice(db, settings, media):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    assert len(stored_videos(media)) == 1
    practice = Practice.objects.get(name=seed_demo.PRACTICE_NAME)
    names = set(Exercise.objects.filter(practice=practice).values_list("video_file", flat=True))
    demo_name = f"videos/{stored_videos(media)[0]}"
    assert names == {demo_name, ""}  # heat needs no video
    assert Exercise.objects.get(practice=practice, is_heat=True).video_file.name == ""
    steps = PlanStep.objects.filter(plan__client__practice=practice, is_heat=False)
    assert steps.exists()
    assert set(steps.values_list("video_file", flat=True)) == {demo_name}
    response = Browser().get(steps.first().video.source, HTTP_RANGE="bytes=0-7")
    assert response.status_code == 206
    assert body(response) == DEMO[:8]


def test_the_admin_checks_an_upload_too(admin_client, practice, media):
    exercise = psoas(practice)
    url = reverse("admin:aftercare_exercise_change", args=[exercise.pk])
    data = {
        **exercise_data(video_url=""),
        "practice": practice.pk,
        "video_file": mp4("clip.mp4", b"GIF89a not a video"),
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "That file isn&#x27;t an MP4 video" in response.content.decode()
    assert stored_videos(media) == []
    data["video_file"] = mp4()
    assert admin_client.post(url, data).status_code == 302
    exercise.refresh_from_db()
    assert STORED_NAME.match(exercise.video_file.name)
