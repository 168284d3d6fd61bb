//! A tiny XML tree, written with quick-xml's escaping: enough for the
//! documents billing writes (CII invoices, PES V2 flows), in the order the
//! schemas want, with no way to forget an escape.

use quick_xml::escape::escape;

/// A tiny XML tree, written with quick-xml's escaping.
#[derive(Clone)]
pub(crate) enum Node {
    El {
        name: &'static str,
        attrs: Vec<(&'static str, String)>,
        children: Vec<Node>,
    },
    Text(String),
}

pub(crate) fn el(name: &'static str, children: Vec<Node>) -> Node {
    Node::El {
        name,
        attrs: Vec::new(),
        children,
    }
}

pub(crate) fn text(name: &'static str, value: impl Into<String>) -> Node {
    Node::El {
        name,
        attrs: Vec::new(),
        children: vec![Node::Text(value.into())],
    }
}

pub(crate) fn text_attr(
    name: &'static str,
    attr: (&'static str, &str),
    value: impl Into<String>,
) -> Node {
    Node::El {
        name,
        attrs: vec![(attr.0, attr.1.to_owned())],
        children: vec![Node::Text(value.into())],
    }
}

pub(crate) fn write(node: &Node, out: &mut String, depth: usize) {
    match node {
        Node::Text(t) => out.push_str(&escape(t.as_str())),
        Node::El {
            name,
            attrs,
            children,
        } => {
            out.push_str(&"  ".repeat(depth));
            out.push('<');
            out.push_str(name);
            for (k, v) in attrs {
                out.push_str(&format!(" {k}=\"{}\"", escape(v.as_str())));
            }
            out.push('>');
            let only_text = children.iter().all(|c| matches!(c, Node::Text(_)));
            if only_text {
                for c in children {
                    write(c, out, 0);
                }
            } else {
                out.push('\n');
                for c in children {
                    write(c, out, depth + 1);
                }
                out.push_str(&"  ".repeat(depth));
            }
            out.push_str(&format!("</{name}>\n"));
        }
    }
}
