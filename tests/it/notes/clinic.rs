//! A small clinic on a fresh `suifang serve`: a nurse (discipline nursing), a second nurse, a
//! supervisor, a doctor and an admin; heart-failure patients discharged yesterday, so each has
//! its day-1 call in today's queue.

use std::path::Path;

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::common::{run_with_stdin, Client, Reply, Server};

pub const USERS: [(&str, &str, &str); 5] = [
    ("nina", "nina-password-1", "nurse"),
    ("nora", "nora-password-1", "nurse"),
    ("sam", "sam-password-1", "supervisor"),
    ("dora", "dora-password-1", "doctor"),
    ("ada", "ada-password-1", "admin"),
];

pub struct Clinic {
    /// Held so the server runs as long as the clinic (dropping it kills the process).
    #[allow(dead_code)]
    pub server: Server,
    pub nina: Client,
    pub nora: Client,
    pub sam: Client,
    pub ada: Client,
}

impl Clinic {
    pub fn start(dir: &Path) -> Clinic {
        for (name, password, role) in USERS {
            let out = run_with_stdin(
                dir,
                &["user", "add", "--username", name, "--role", role],
                &format!("{password}\n"),
            );
            assert!(
                out.status.success(),
                "user add {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let server = Server::start(dir, "serve", &[]);
        let login = |i: usize| Client::login(&server, USERS[i].0, USERS[i].1);
        let (nina, nora, sam, ada) = (login(0), login(1), login(2), login(4));
        let users = ada.get("/api/v1/users").body;
        let nina_id = users["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "nina")
            .and_then(|u| u["id"].as_i64())
            .expect("nina listed");
        let set = ada.put(
            &format!("/api/v1/users/{nina_id}/discipline"),
            json!({"discipline": "nursing"}),
        );
        assert_eq!(set.status, 200, "{}", set.body);
        Clinic {
            server,
            nina,
            nora,
            sam,
            ada,
        }
    }

    /// A heart-failure patient discharged yesterday (day-1 call due today); returns its id.
    pub fn hf_patient(&self, mrn: &str, name: &str) -> i64 {
        let p = self.sam.post(
            "/api/v1/patients",
            json!({"mrn": mrn, "name": name, "phone": "+8613800000001"}),
        );
        assert_eq!(p.status, 201, "{}", p.body);
        let id = p.body["id"].as_i64().unwrap();
        let d = self.sam.post(
            &format!("/api/v1/patients/{id}/discharges"),
            json!({"discharged_at": (Utc::now() - Duration::days(1)).to_rfc3339(),
                   "diagnoses": [{"icd10": "I50.9"}]}),
        );
        assert_eq!(d.status, 201, "{}", d.body);
        assert_eq!(d.body["pathway"], "heart-failure", "{}", d.body);
        id
    }

    pub fn build_queue(&self) {
        let b = self.sam.post("/api/v1/queue/build", json!({}));
        assert_eq!(b.status, 200, "{}", b.body);
    }

    /// Audit entries (newest first) as (actor, action, entity, entity_id, detail).
    pub fn audit(&self) -> Vec<(String, String, String, String, String)> {
        self.ada.get("/api/v1/audit").body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
                (
                    s("actor"),
                    s("action"),
                    s("entity"),
                    s("entity_id"),
                    s("detail"),
                )
            })
            .collect()
    }
}

pub fn delete(c: &Client, path: &str) -> Reply {
    c.request("DELETE", path, None, "")
}

pub fn answer(c: &Client, task: i64, question: &str, value: Value) -> Reply {
    c.request(
        "PUT",
        &format!("/api/v1/tasks/{task}/answers/{question}"),
        Some(&json!({"value": value}).to_string()),
        "application/json",
    )
}
