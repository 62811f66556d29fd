"""Load scenarios. Run against the demo server (`python3 dev.py serve`):

    locust -f locustfile.py --headless -u 50 -r 10 -t 1m --host http://127.0.0.1:8000

(locust is not in requirements-dev.txt; `pip install locust==2.47.0` in the venv first.)
"""

from __future__ import annotations

from locust import HttpUser, between, task

FESTIVAL_QUERY = """query Festival { festival { name startsOn endsOn venueName }
  sponsors { name tier } }"""
SCHEDULE_QUERY = "query Schedule { schedule { days { date performances { artist startsAt stage { name } } } } }"
LOGIN = """mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken errors { code } } }"""
ME = "query Me { me { email role } }"


class Browser(HttpUser):
    """A visitor browsing the festival site, then signing in and looking at their account."""

    wait_time = between(0.5, 2)

    def gql(self, query: str, variables: dict | None = None, token: str | None = None, name: str = "graphql"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.post("/graphql/", json={"query": query, "variables": variables or {}}, headers=headers, name=name)

    @task(5)
    def browse(self):
        self.gql(FESTIVAL_QUERY, name="festival")
        self.gql(SCHEDULE_QUERY, name="schedule")

    @task(1)
    def login_and_me(self):
        response = self.gql(LOGIN, {"email": "attendee@festival.example", "password": "attendee-demo-password"}, name="login")
        token = ((response.json().get("data") or {}).get("login") or {}).get("accessToken")
        if token:
            self.gql(ME, token=token, name="me")
