//! The report page: one self-contained HTML file (inline CSS and SVG, PNG
//! images as `data:` URIs), no scripts and no external references, so it
//! opens from disk in any browser without network access.

use super::{Block, Report};
use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
figure{margin:1.2em 0;display:inline-block;vertical-align:top}figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{font-size:.9em;color:#444;max-width:720px}table{border-collapse:collapse;margin:.8em 0;font-size:.9em}\
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f4f4f4}\
p.note{color:#555;font-size:.9em}img.montage{max-width:100%;image-rendering:pixelated;border:1px solid #eee}\
figure.strip{display:block;max-width:100%}div.strip{display:flex;gap:8px;overflow-x:auto}div.strip figure{margin:0;flex:0 0 auto}img.frame{height:320px;image-rendering:pixelated;border:1px solid #eee}\
nav a{margin-right:1em}";

pub fn page(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&r.title),
        escape(&r.title)
    );
    let _ = writeln!(
        o,
        "<p class=\"note\">{} · written by vtwin {} from <code>{}</code></p>",
        escape(r.kind.name()),
        env!("CARGO_PKG_VERSION"),
        escape(&r.source.display().to_string())
    );
    if r.sections.len() > 1 {
        o.push_str("<nav>");
        for (k, s) in r.sections.iter().enumerate() {
            let _ = write!(o, "<a href=\"#s{k}\">{}</a>", escape(&s.heading));
        }
        o.push_str("</nav>\n");
    }
    for (k, s) in r.sections.iter().enumerate() {
        let _ = writeln!(o, "<section id=\"s{k}\">\n<h2>{}</h2>", escape(&s.heading));
        for b in &s.blocks {
            match b {
                Block::Text(t) => {
                    let _ = writeln!(o, "<p class=\"note\">{}</p>", escape(t));
                }
                Block::Table { header, rows } => {
                    o.push_str("<table>\n<tr>");
                    for h in header {
                        let _ = write!(o, "<th>{}</th>", escape(h));
                    }
                    o.push_str("</tr>\n");
                    for row in rows {
                        o.push_str("<tr>");
                        for c in row {
                            let _ = write!(o, "<td>{}</td>", escape(c));
                        }
                        o.push_str("</tr>\n");
                    }
                    o.push_str("</table>\n");
                }
                Block::Figure(f) => {
                    let _ = writeln!(
                        o,
                        "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>",
                        escape(&f.name),
                        f.svg,
                        escape(&f.caption)
                    );
                }
                Block::Strip { alt, frames } => {
                    use base64::Engine as _;
                    let _ = write!(o, "<figure class=\"strip\"><div class=\"strip\">");
                    for (caption, bytes) in frames {
                        let _ = write!(
                            o,
                            "<figure><img class=\"frame\" alt=\"{}\" src=\"data:image/png;base64,{}\">\
                             <figcaption>{}</figcaption></figure>",
                            escape(caption),
                            base64::engine::general_purpose::STANDARD.encode(bytes),
                            escape(caption)
                        );
                    }
                    let _ = writeln!(o, "</div><figcaption>{}</figcaption></figure>", escape(alt));
                }
                Block::Png { alt, bytes } => {
                    use base64::Engine as _;
                    let _ = writeln!(
                        o,
                        "<figure><img class=\"montage\" alt=\"{}\" src=\"data:image/png;base64,{}\">\
                         <figcaption>{}</figcaption></figure>",
                        escape(alt),
                        base64::engine::general_purpose::STANDARD.encode(bytes),
                        escape(alt)
                    );
                }
            }
        }
        o.push_str("</section>\n");
    }
    o.push_str("</body>\n</html>\n");
    o
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(super::escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
