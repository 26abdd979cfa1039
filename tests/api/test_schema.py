from rest_framework.test import APIClient


def test_schema_is_public_openapi_3_with_the_key_paths(db):
    response = APIClient().get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/orgs/",
        "/api/orgs/{slug}/",
        "/api/orgs/{slug}/members/",
        "/api/orgs/{slug}/members/{member_id}/",
        "/api/orgs/{slug}/invitations/",
        "/api/orgs/{slug}/keys/",
        "/api/orgs/{slug}/keys/{key_id}/",
        "/api/orgs/{slug}/keys/{key_id}/revoke/",
        "/api/orgs/{slug}/keys/{key_id}/rotate/",
    ):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["managementKey"]["scheme"] == "bearer"


def test_schema_has_request_and_response_shapes(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    create = schema["paths"]["/api/orgs/{slug}/keys/"]["post"]
    request_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    response_ref = create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    components = schema["components"]["schemas"]
    request = components[request_ref.rsplit("/", 1)[1]]
    response = components[response_ref.rsplit("/", 1)[1]]
    assert {"name", "budget_usd", "allowed_models", "is_management"} <= set(request["properties"])
    assert "secret" in response["properties"]
    key = components["Key"]["properties"]
    assert "secret" not in key and "digest" not in key


def test_docs_page_is_public_html(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()
    assert b"/api/schema/" in response.content
