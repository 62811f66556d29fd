def test_me_requires_authentication(gql, db):
    response = gql.execute("{ me { email } }")
    assert response.status_code == 200
    assert response.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_me_with_token(as_user):
    client = as_user("attendee", email="ana@example.test")
    response = client.execute("{ me { email role } }")
    assert response.data == {"me": {"email": "ana@example.test", "role": "ATTENDEE"}}
