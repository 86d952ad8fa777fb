//! Reports for CI: JUnit XML, one test case per scenario.

use super::{Outcome, ScenarioError};

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML for CI: one test case per scenario.
pub fn junit(outcomes: &[Outcome], errors: &[ScenarioError]) -> String {
    let failures = outcomes.iter().filter(|o| o.failure.is_some()).count() + errors.len();
    let total: f64 = outcomes.iter().map(|o| o.elapsed.as_secs_f64()).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"cachet\" tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">\n",
        outcomes.len() + errors.len()
    );
    for o in outcomes {
        out.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&o.path.display().to_string()),
            xml_escape(&o.name),
            o.elapsed.as_secs_f64()
        ));
        match &o.failure {
            None => out.push_str("/>\n"),
            Some(f) => {
                let first = f.lines().next().unwrap_or("");
                out.push_str(&format!(
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n",
                    xml_escape(first),
                    xml_escape(f)
                ));
            }
        }
    }
    for e in errors {
        out.push_str(&format!(
            "  <testcase classname=\"{0}\" name=\"{0}\">\n    <error message=\"{1}\">{1}</error>\n  </testcase>\n",
            xml_escape(&e.path.display().to_string()),
            xml_escape(&e.to_string())
        ));
    }
    out.push_str("</testsuite>\n</testsuites>\n");
    out
}
