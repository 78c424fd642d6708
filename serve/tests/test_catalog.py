"""What the gateway serves, from Serve's details in the dashboard's JSON shape."""

from ndif_serve import keys
from ndif_serve.catalog import Catalog, served_models, undescribed

KEY = keys.model_key(keys.LANGUAGE_MODEL, "org/m")


def app(status, args, replicas, deployment="ModelDeployment"):
    return {
        "status": status,
        "message": "" if status == "RUNNING" else "it broke",
        "deployed_app_config": {"args": args} if args is not None else None,
        "deployments": {
            deployment: {
                "replicas": [{"replica_id": r, "state": s} for r, s in replicas],
            }
        },
    }


DETAILS = {
    "applications": {
        "m": app("RUNNING", {"model_key": KEY, "repo_id": "org/m"}, [("a1", "RUNNING"), ("a2", "STARTING")]),
        "deploying": app("DEPLOYING", {"repo_id": "org/d"}, []),
        "plain": app("RUNNING", {"repo_id": "org/p", "wrapper": "transformers.AutoModel"}, [("p", "RUNNING")]),
        "python": app("RUNNING", None, [("y", "RUNNING")]),
        "ndif-gateway": app("RUNNING", {"auth": "None"}, [("g", "RUNNING")], deployment="Gateway"),
        "broken-args": app("RUNNING", {"nonsense": 1}, [("b", "RUNNING")]),
    }
}


def test_only_nnsight_model_applications_are_served():
    served = {m.application: m for m in served_models(DETAILS, {"python": KEY + "x"})}
    assert set(served) == {"m", "deploying", "python"}
    assert served["m"].running and not served["deploying"].running
    assert served["python"].model_key == KEY + "x"


def test_applications_without_a_config_are_asked():
    assert undescribed(DETAILS) == ["python"]


def test_keys_are_found_in_any_spelling():
    catalog = Catalog(served_models(DETAILS))
    legacy = 'nnsight.modeling.language.LanguageModel:{"repo_id": "org/m", "revision": "main"}'
    assert [m.application for m in catalog.find(legacy)] == ["m"]
    assert catalog.find(keys.model_key(keys.LANGUAGE_MODEL, "org/none")) == []


def test_status_has_an_entry_per_replica_in_nnsights_shape():
    status = Catalog(served_models(DETAILS)).status()["deployments"]
    assert status[f"a1:ModelActor:{KEY}"]["application_state"] == "RUNNING"
    assert status[f"a2:ModelActor:{KEY}"]["application_state"] == "DEPLOYING"
    deploying = next(v for k, v in status.items() if k.startswith("deploying:"))
    assert deploying["application_state"] == "DEPLOYING"
    assert deploying["repo_id"] == "org/d"
    assert all(v["deployment_level"] == "HOT" for v in status.values())


def test_a_job_is_routed_to_a_running_replica_else_a_deploying_one_else_refused():
    def catalog(*apps):
        return Catalog(served_models({"applications": dict(apps)}))

    running = ("m", app("RUNNING", {"model_key": KEY, "repo_id": "org/m"}, [("r", "RUNNING")]))
    starting = ("s", app("DEPLOYING", {"model_key": KEY, "repo_id": "org/m"}, [("x", "STARTING")]))
    failed = ("f", app("DEPLOY_FAILED", {"model_key": KEY, "repo_id": "org/m"}, []))

    route = catalog(starting, running).route(KEY)
    assert (route.model.application, route.status) == ("m", "QUEUED")
    route = catalog(starting).route(KEY)
    assert (route.model.application, route.status) == ("s", "DEPLOYING")
    route = catalog(failed).route(KEY)
    assert route.model is None and route.status == "ERROR"
    assert route.description == (
        f"The model {KEY} cannot run now: its deployment is DEPLOY_FAILED. it broke"
    )
    other = keys.model_key(keys.LANGUAGE_MODEL, "org/other")
    route = catalog(running).route(other)
    assert route.model is None
    assert route.description == f"The model {other} is not served here. Models served: {KEY}."
