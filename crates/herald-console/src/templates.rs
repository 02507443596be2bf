//! The page templates, embedded at build time. `.html` templates escape every value by
//! default: event text, names and errors are shown as text, never as markup.

use minijinja::Environment;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("sign_in.html", include_str!("../templates/sign_in.html")),
    ("error.html", include_str!("../templates/error.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    (
        "integrations.html",
        include_str!("../templates/integrations.html"),
    ),
    (
        "integration.html",
        include_str!("../templates/integration.html"),
    ),
    (
        "integration_form.html",
        include_str!("../templates/integration_form.html"),
    ),
    (
        "confirm_delete.html",
        include_str!("../templates/confirm_delete.html"),
    ),
    (
        "deliveries.html",
        include_str!("../templates/deliveries.html"),
    ),
    ("delivery.html", include_str!("../templates/delivery.html")),
    ("event.html", include_str!("../templates/event.html")),
    ("events.html", include_str!("../templates/events.html")),
    ("routing.html", include_str!("../templates/routing.html")),
    (
        "workspace.html",
        include_str!("../templates/workspace.html"),
    ),
    ("users.html", include_str!("../templates/users.html")),
    ("access.html", include_str!("../templates/access.html")),
    ("group.html", include_str!("../templates/group.html")),
    ("audit.html", include_str!("../templates/audit.html")),
    (
        "catalogue.html",
        include_str!("../templates/catalogue.html"),
    ),
];

pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    #[test]
    fn every_template_compiles_and_escapes_what_it_is_given() {
        let env = super::environment();
        let hostile = "<script>alert(1)</script>";
        let html = env
            .get_template("error.html")
            .unwrap()
            .render(context! { title => hostile, message => hostile, status => 404 })
            .unwrap();
        assert!(!html.contains(hostile), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }
}
