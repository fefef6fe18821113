"""The phone flow under load: open Today, tick a step, log a check-in.

Run by bench/run.py (headless, loopback only, fixed run time). Each simulated client logs
in once with its own magic link (BENCH_LINKS: a file of link paths, one a line), then
repeats the flow, pausing THINK seconds (2 to 5) before each tap: a person reads the page,
does the exercise, fills in the form. That is still far busier than 50 real clients, who
do the flow once or twice a day.
"""

from __future__ import annotations

import os
import re
import uuid
from itertools import count

from locust import FastHttpUser, between, task

LINKS = open(os.environ["BENCH_LINKS"]).read().split()  # noqa: SIM115
_next = count()

STEP_FORM = re.compile(r'<form[^>]*action="/c/done/"[^>]*>(.*?)</form>', re.S)
FIELD = re.compile(r'name="([^"]+)" value="([^"]*)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHECKIN = {
    "warning": "no",
    "pain_now": "2",
    "worst_pain": "3",
    "compared": "same",
    "legs": "none",
    "sleep": "fine",
    "note": "",
}


class PhoneClient(FastHttpUser):
    wait_time = between(2, 5)  # THINK: before each tap

    def on_start(self) -> None:
        link = LINKS[next(_next) % len(LINKS)]
        with self.client.get(link, name="login link", catch_response=True) as response:
            if "Check in" not in response.text:
                response.failure("the magic link did not open Today")

    @task
    def phone_flow(self) -> None:
        with self.client.get("/c/", name="today", catch_response=True) as response:
            form = STEP_FORM.search(response.text)
            if form is None:
                response.failure("no step to tick on Today")
                return
        self.wait()
        self.client.post(
            "/c/done/", data=dict(FIELD.findall(form.group(1))), name="tick a step (+ Today)"
        )
        self.wait()
        with self.client.get("/c/check-in/", name="check-in form", catch_response=True) as page:
            found = CSRF.search(page.text)
            if found is None:
                page.failure("no check-in form")
                return
        self.wait()
        with self.client.post(
            "/c/check-in/",
            data={
                **CHECKIN,
                "csrfmiddlewaretoken": found.group(1),
                "submission_key": str(uuid.uuid4()),
            },
            name="log a check-in (+ Today)",
            catch_response=True,
        ) as saved:
            if "check-in is saved" not in saved.text:
                saved.failure("the check-in was not saved")
