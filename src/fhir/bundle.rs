//! Search results as a `searchset` Bundle with paging links (R4 §3.1.1.4: `self`, `first`,
//! `previous`, `next`), the CapabilityStatement, and OperationOutcome for errors.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::ResourceType;

/// One page of a search.
pub struct Page<'a> {
    /// Where the API is served, e.g. `http://host:8080/fhir/r4`.
    pub base: &'a str,
    pub resource_type: ResourceType,
    /// The search's own parameters, without `_offset` (the links add it).
    pub params: &'a [(String, String)],
    pub total: u64,
    pub offset: u32,
    pub count: u32,
    pub resources: Vec<Value>,
    pub now: DateTime<Utc>,
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn link(page: &Page, relation: &str, offset: u32) -> Value {
    let mut query: Vec<String> = page
        .params
        .iter()
        .filter(|(k, _)| k != "_offset" && k != "_count")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    query.push(format!("_count={}", page.count));
    query.push(format!("_offset={offset}"));
    json!({
        "relation": relation,
        "url": format!("{}/{}?{}", page.base, page.resource_type.as_str(), query.join("&")),
    })
}

/// The Bundle of one page.
pub fn searchset(page: Page) -> Value {
    let mut links = vec![link(&page, "self", page.offset), link(&page, "first", 0)];
    if page.offset > 0 {
        links.push(link(
            &page,
            "previous",
            page.offset.saturating_sub(page.count),
        ));
    }
    let next = u64::from(page.offset) + u64::from(page.count);
    if next < page.total {
        links.push(link(&page, "next", page.offset + page.count));
    }
    let entries: Vec<Value> = page
        .resources
        .into_iter()
        .map(|r| {
            let url = format!(
                "{}/{}/{}",
                page.base,
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            );
            json!({ "fullUrl": url, "resource": r, "search": { "mode": "match" } })
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "meta": { "lastUpdated": page.now.to_rfc3339_opts(SecondsFormat::Secs, true) },
        "total": page.total,
        "link": links,
    });
    if !entries.is_empty() {
        bundle["entry"] = json!(entries);
    }
    bundle
}

/// The server's CapabilityStatement (`GET /fhir/r4/metadata`).
pub fn capability_statement(base: &str, version: &str, now: DateTime<Utc>) -> Value {
    let resources: Vec<Value> = ResourceType::ALL
        .iter()
        .map(|t| {
            let mut params = vec![
                json!({ "name": "date", "type": "date", "documentation": format!("The {}.", t.date_meaning()) }),
                json!({ "name": "_lastUpdated", "type": "date" }),
                json!({ "name": "_count", "type": "number" }),
            ];
            if *t != ResourceType::Patient {
                params.insert(0, json!({ "name": "patient", "type": "reference" }));
            }
            json!({
                "type": t.as_str(),
                "interaction": [{ "code": "read" }, { "code": "search-type" }],
                "searchParam": params,
            })
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "publisher": "suifang",
        "kind": "instance",
        "software": { "name": "suifang", "version": version },
        "implementation": { "description": "suifang follow-up call center", "url": base },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {
                "description": "System clients: `Authorization: Bearer <API token>`; an admin creates tokens, each scoped to resource types. Every read is audited."
            },
            "resource": resources,
        }],
    })
}

/// An OperationOutcome for an error (`code` from the R4 issue-type value set).
pub fn outcome(code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": "error", "code": code, "diagnostics": diagnostics }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_link_to_their_neighbours_with_the_same_search() {
        let params = vec![
            ("patient".to_string(), "Patient/3".to_string()),
            ("date".to_string(), "ge2026-12-01".to_string()),
        ];
        let now = "2026-12-07T08:00:00Z".parse().unwrap();
        let b = searchset(Page {
            base: "http://h/fhir/r4",
            resource_type: ResourceType::Observation,
            params: &params,
            total: 5,
            offset: 2,
            count: 2,
            resources: vec![json!({"resourceType": "Observation", "id": "m1"})],
            now,
        });
        let rel = |r: &str| {
            b["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == r)
                .map(|l| l["url"].as_str().unwrap().to_string())
        };
        assert_eq!(
            rel("next").unwrap(),
            "http://h/fhir/r4/Observation?patient=Patient/3&date=ge2026-12-01&_count=2&_offset=4"
        );
        assert!(rel("previous").unwrap().ends_with("_offset=0"));
        assert_eq!(b["total"], 5);
        assert_eq!(b["entry"][0]["fullUrl"], "http://h/fhir/r4/Observation/m1");
        // the last page has no next
        let b = searchset(Page {
            base: "b",
            resource_type: ResourceType::Patient,
            params: &[],
            total: 5,
            offset: 4,
            count: 2,
            resources: vec![],
            now,
        });
        assert!(!b["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next"));
        assert!(b.get("entry").is_none(), "no empty arrays in FHIR JSON");
    }
}
