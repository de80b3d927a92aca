//! Markdown to checklist items: one pass over pulldown-cmark's events, tracking
//! the heading path, the open list items and the label of the current task.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::slug::Ids;
use super::{Checklist, ChecklistItem};

const BOM: &str = "\u{feff}";

/// Parses a markdown checklist. Never fails and never panics: text that is not
/// a task item is skipped, whatever it is.
///
/// Understands CommonMark with GitHub's task lists, tables and strikethrough,
/// YAML front matter, CRLF (and CR) line endings and a leading UTF-8
/// byte-order mark. Offsets and lines in the result refer to `source` as given.
pub fn parse(source: &str) -> Checklist {
    let (base, body) = match source.strip_prefix(BOM) {
        Some(rest) => (BOM.len(), rest),
        None => (0, source),
    };
    let options = Options::ENABLE_TASKLISTS
        | Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    let mut walk = Walk::default();
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        walk.event(event, (range.start + base)..(range.end + base));
    }
    walk.finish(source)
}

/// A tag that is open at the current event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// A list item, with its index in `Walk::items` once it turned out to be a task.
    Item(Option<usize>),
    /// Any other block.
    Block,
    /// Emphasis, links and the like.
    Inline,
}

/// A heading seen so far.
#[derive(Debug)]
struct Heading {
    level: u8,
    text: String,
}

/// A task item before headings, title and ids are settled.
#[derive(Debug)]
struct Found {
    claimed: bool,
    box_range: Range<usize>,
    parent: Option<usize>,
    /// Indices into `Walk::headings`, outermost first.
    path: Vec<usize>,
    text: String,
    /// End of the last inline event of the label.
    label_end: usize,
}

/// The label being collected: inline content of the item `item` until the
/// block holding the box (the item itself, or its first paragraph) closes, or
/// any block opens inside it.
#[derive(Debug)]
struct Label {
    item: usize,
    depth: usize,
}

/// State of the one pass over the events.
#[derive(Debug, Default)]
struct Walk {
    stack: Vec<Open>,
    headings: Vec<Heading>,
    /// The heading path here: indices into `headings`.
    path: Vec<usize>,
    /// Plain text of the heading being read, with its level.
    heading: Option<Heading>,
    items: Vec<Found>,
    label: Option<Label>,
}

impl Walk {
    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            Event::Start(tag) => self.start(&tag, range),
            Event::End(tag) => self.end(tag, range),
            Event::Text(text) | Event::Code(text) => self.text(&text, range),
            Event::SoftBreak | Event::HardBreak => self.text(" ", range),
            Event::InlineHtml(_) | Event::FootnoteReference(_) => self.text("", range),
            Event::TaskListMarker(checked) => self.task(checked, range),
            Event::Html(_) | Event::InlineMath(_) | Event::DisplayMath(_) | Event::Rule => {}
        }
    }

    fn start(&mut self, tag: &Tag<'_>, range: Range<usize>) {
        let open = match tag {
            Tag::Item => Open::Item(None),
            Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::Image { .. } => Open::Inline,
            _ => Open::Block,
        };
        if open == Open::Inline {
            self.text("", range);
        } else {
            // A nested list, code block, quote… ends the label.
            self.label = None;
        }
        if let Tag::Heading { level, .. } = tag {
            self.heading = Some(Heading {
                level: *level as u8,
                text: String::new(),
            });
        }
        self.stack.push(open);
    }

    fn end(&mut self, tag: TagEnd, range: Range<usize>) {
        if let Some(Open::Inline) = self.stack.pop() {
            self.text("", range);
        }
        if self
            .label
            .as_ref()
            .is_some_and(|label| self.stack.len() < label.depth)
        {
            self.label = None;
        }
        if let TagEnd::Heading(_) = tag
            && let Some(mut heading) = self.heading.take()
        {
            heading.text = collapse(&heading.text);
            while let Some(&last) = self.path.last() {
                if self
                    .headings
                    .get(last)
                    .is_some_and(|h| h.level >= heading.level)
                {
                    self.path.pop();
                } else {
                    break;
                }
            }
            if !heading.text.is_empty() {
                self.path.push(self.headings.len());
            }
            self.headings.push(heading);
        }
    }

    /// Appends `text` to the heading or label being read; empty text only
    /// moves the label's end.
    fn text(&mut self, text: &str, range: Range<usize>) {
        if let Some(heading) = &mut self.heading {
            heading.text.push_str(text);
        }
        if let Some(label) = &self.label
            && let Some(item) = self.items.get_mut(label.item)
        {
            item.text.push_str(text);
            item.label_end = item.label_end.max(range.end);
        }
    }

    fn task(&mut self, checked: bool, range: Range<usize>) {
        let Some(at) = self
            .stack
            .iter()
            .rposition(|open| matches!(open, Open::Item(_)))
        else {
            return;
        };
        if self.stack[at] != Open::Item(None) {
            return;
        }
        let index = self.items.len();
        let parent = self.stack[..at].iter().rev().find_map(|open| match open {
            Open::Item(task) => *task,
            _ => None,
        });
        self.stack[at] = Open::Item(Some(index));
        self.items.push(Found {
            claimed: checked,
            box_range: range.clone(),
            parent,
            path: self.path.clone(),
            text: String::new(),
            label_end: range.end,
        });
        self.label = Some(Label {
            item: index,
            depth: self.stack.len(),
        });
    }

    fn finish(self, source: &str) -> Checklist {
        let h1s: Vec<usize> = (0..self.headings.len())
            .filter(|&i| self.headings[i].level == 1)
            .collect();
        let title = match h1s.as_slice() {
            [0] => Some(0),
            _ => None,
        };
        let lines = Lines::new(source);
        let mut ids = Ids::default();
        let items = self
            .items
            .into_iter()
            .map(|found| {
                let headings: Vec<String> = found
                    .path
                    .iter()
                    .filter(|&&i| Some(i) != title)
                    .filter_map(|&i| self.headings.get(i).map(|h| h.text.clone()))
                    .collect();
                let text = collapse(&found.text);
                let label_last = found.label_end.saturating_sub(1).max(found.box_range.start);
                let line_end = lines.content_end(lines.line_of(label_last));
                ChecklistItem {
                    id: ids.assign(&headings, &text),
                    display: display(source, found.box_range.end..line_end),
                    text,
                    claimed: found.claimed,
                    section: headings.first().cloned(),
                    headings,
                    parent: found.parent,
                    line: lines.line_of(found.box_range.start),
                    box_range: found.box_range,
                    line_end,
                }
            })
            .collect();
        Checklist {
            path: None,
            source: source.to_owned(),
            title: title
                .and_then(|i| self.headings.get(i))
                .map(|h| h.text.clone()),
            items,
        }
    }
}

/// Whitespace runs to one space, ends trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The raw label: the source after the box up to the end of the label's last
/// line; the lines of a wrapped label lose their indentation and block-quote
/// markers and are joined by spaces.
fn display(source: &str, range: Range<usize>) -> String {
    let raw = source.get(range).unwrap_or_default();
    let mut parts = Vec::new();
    for (n, line) in raw.split(['\n', '\r']).enumerate() {
        let line = if n == 0 {
            line.trim()
        } else {
            line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
                .trim_end()
        };
        if !line.is_empty() {
            parts.push(line);
        }
    }
    parts.join(" ")
}

/// Where lines start, for turning byte offsets into line numbers.
#[derive(Debug)]
struct Lines<'a> {
    source: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    /// Lines end at `\n`, `\r\n` or a lone `\r`, as in CommonMark.
    fn new(source: &'a str) -> Lines<'a> {
        let bytes = source.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        Lines { source, starts }
    }

    /// 1-based line holding byte `offset`; a line ending belongs to its line.
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }

    /// Byte offset where the content of 1-based `line` ends, before its line ending.
    fn content_end(&self, line: usize) -> usize {
        let end = self.starts.get(line).copied().unwrap_or(self.source.len());
        let text = self.source.get(..end).unwrap_or(self.source);
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        text.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(checklist: &Checklist) -> Vec<&str> {
        checklist
            .items
            .iter()
            .map(|item| item.text.as_str())
            .collect()
    }

    #[test]
    fn bullet_and_numbered_tasks_are_items() {
        let checklist = parse("- [ ] dash\n\n* [x] star\n\n+ [X] plus\n\n1. [ ] one\n2) [x] two\n");
        assert_eq!(texts(&checklist), ["dash", "star", "plus", "one", "two"]);
        let claimed: Vec<bool> = checklist.items.iter().map(|item| item.claimed).collect();
        assert_eq!(claimed, [false, true, true, false, true]);
    }

    #[test]
    fn plain_bullets_and_near_misses_are_not_items() {
        let checklist =
            parse("- plain\n- [link](#x)\n- [ ]no space\n- [y] other\n- [] empty\n[ ] no bullet\n");
        assert!(checklist.items.is_empty(), "{:?}", checklist.items);
    }

    #[test]
    fn boxes_in_code_are_not_items() {
        let source = "```\n- [ ] fenced\n```\n\n    - [x] indented code\n\n- `- [ ] inline` code\n";
        assert!(parse(source).items.is_empty());
    }

    #[test]
    fn empty_label_is_still_an_item() {
        let checklist = parse("## Sign\n\n- [ ]\n- [x]   \n");
        assert_eq!(texts(&checklist), ["", ""]);
        assert_eq!(checklist.items[0].id, "sign/item");
        assert_eq!(checklist.items[1].id, "sign/item-2");
        assert_eq!(checklist.items[1].display, "");
    }

    #[test]
    fn text_strips_markdown_display_keeps_it() {
        let source = "- [ ] **Dockerfile optimized** for _prod_ (`multi-stage`), see [guide](https://x.invalid/g) ~~old~~ <br> ![badge](b.svg)\n";
        let item = &parse(source).items[0];
        assert_eq!(
            item.text,
            "Dockerfile optimized for prod (multi-stage), see guide old badge"
        );
        assert_eq!(
            item.display,
            "**Dockerfile optimized** for _prod_ (`multi-stage`), see [guide](https://x.invalid/g) ~~old~~ <br> ![badge](b.svg)"
        );
    }

    #[test]
    fn text_excludes_children_code_blocks_and_later_paragraphs() {
        let source = "\
- [ ] Parent label
  with a wrapped line

  ```sh
  echo not text
  ```

  A second paragraph that only explains.

  - [ ] Child
  > quoted
";
        let checklist = parse(source);
        assert_eq!(
            texts(&checklist),
            ["Parent label with a wrapped line", "Child"]
        );
        assert_eq!(
            checklist.items[0].display,
            "Parent label with a wrapped line"
        );
        assert_eq!(checklist.items[1].parent, Some(0));
    }

    #[test]
    fn nesting_skips_plain_bullets_between_tasks() {
        let source = "\
- [ ] top
  - plain
    - [ ] under plain
      - [x] deeper
- plain root
  - [ ] orphan
";
        let checklist = parse(source);
        let parents: Vec<Option<usize>> = checklist.items.iter().map(|item| item.parent).collect();
        assert_eq!(parents, [None, Some(0), Some(1), None]);
        assert_eq!(
            texts(&checklist),
            ["top", "under plain", "deeper", "orphan"]
        );
    }

    #[test]
    fn tasks_in_block_quotes_are_items() {
        let source = "> ## Quoted\n>\n> - [x] in quote\n>   wrapped\n>   - [ ] nested\n>\n> > - [ ] doubly quoted\n";
        let checklist = parse(source);
        assert_eq!(
            texts(&checklist),
            ["in quote wrapped", "nested", "doubly quoted"]
        );
        assert_eq!(checklist.items[0].display, "in quote wrapped");
        assert_eq!(checklist.items[1].parent, Some(0));
        assert_eq!(checklist.items[2].section.as_deref(), Some("Quoted"));
    }

    #[test]
    fn single_h1_is_title_and_not_a_section() {
        let source = "# Title\n\n- [ ] under title\n\n## A\n\n### A1\n\n- [ ] a1\n\n## B\n\n- [ ] b\n\n#### Deep\n\n- [ ] deep\n";
        let checklist = parse(source);
        assert_eq!(checklist.title.as_deref(), Some("Title"));
        let paths: Vec<Vec<String>> = checklist
            .items
            .iter()
            .map(|item| item.headings.clone())
            .collect();
        assert_eq!(
            paths,
            [
                vec![],
                vec!["A".to_owned(), "A1".to_owned()],
                vec!["B".to_owned()],
                vec!["B".to_owned(), "Deep".to_owned()]
            ]
        );
        assert_eq!(checklist.items[0].section, None);
        assert_eq!(checklist.items[1].section.as_deref(), Some("A"));
        assert_eq!(checklist.sections(), ["A", "B"]);
    }

    #[test]
    fn several_h1s_are_sections_and_there_is_no_title() {
        let source = "# Security\n\n- [ ] s\n\n# Speed\n\n## Cache\n\n- [ ] c\n";
        let checklist = parse(source);
        assert_eq!(checklist.title, None);
        assert_eq!(checklist.sections(), ["Security", "Speed"]);
        assert_eq!(checklist.items[1].headings, ["Speed", "Cache"]);
    }

    #[test]
    fn h1_after_another_heading_is_not_a_title() {
        let checklist = parse("## Intro\n\n# Late\n\n- [ ] x\n");
        assert_eq!(checklist.title, None);
        assert_eq!(checklist.items[0].headings, ["Late"]);
    }

    #[test]
    fn items_before_any_heading_have_no_section() {
        let checklist = parse("- [ ] first\n\n# Title\n\n## S\n\n- [ ] second\n");
        assert_eq!(checklist.items[0].section, None);
        assert_eq!(checklist.items[0].id, "first");
        assert_eq!(checklist.items[1].id, "s/second");
    }

    #[test]
    fn heading_text_is_plain_and_empty_headings_are_skipped() {
        let source = "# Doc\n\n## The `api` [docs](http://x.invalid) **now**\n\n###\n\n- [ ] x\n\nSetext\n------\n\n- [ ] y\n";
        let checklist = parse(source);
        assert_eq!(checklist.items[0].headings, ["The api docs now"]);
        assert_eq!(checklist.items[1].headings, ["Setext"]);
    }

    #[test]
    fn front_matter_is_not_a_heading() {
        let checklist = parse("---\ntitle: x\n---\n\n# Real\n\n## S\n\n- [ ] a\n");
        assert_eq!(checklist.title.as_deref(), Some("Real"));
        assert_eq!(checklist.items[0].headings, ["S"]);
    }

    #[test]
    fn ids_are_unique_and_use_the_heading_path() {
        let source = "# T\n\n## Staging\n\n- [ ] Run smoke tests\n- [ ] Run smoke tests\n\n## Prod\n\n- [ ] Run smoke tests\n";
        let ids: Vec<String> = parse(source)
            .items
            .into_iter()
            .map(|item| item.id)
            .collect();
        assert_eq!(
            ids,
            [
                "staging/run-smoke-tests",
                "staging/run-smoke-tests-2",
                "prod/run-smoke-tests"
            ]
        );
    }

    #[test]
    fn positions_point_into_the_source() {
        let source = "# T\n\n- [x] **one**\n  - [ ] two\n    more\n- [ ] last";
        let checklist = parse(source);
        let boxes: Vec<&str> = checklist
            .items
            .iter()
            .map(|item| &source[item.box_range.clone()])
            .collect();
        assert_eq!(boxes, ["[x]", "[ ]", "[ ]"]);
        let lines: Vec<usize> = checklist.items.iter().map(|item| item.line).collect();
        assert_eq!(lines, [3, 4, 6]);
        let ends: Vec<&str> = checklist
            .items
            .iter()
            .map(|item| &source[..item.line_end])
            .collect();
        assert!(ends[0].ends_with("**one**"));
        // A wrapped label ends on its last line.
        assert!(ends[1].ends_with("    more"));
        assert_eq!(checklist.items[2].line_end, source.len());
    }

    #[test]
    fn crlf_and_bom_keep_offsets_in_the_original() {
        let source = "\u{feff}# T\r\n\r\n- [ ] a\r\n  wrapped\r\n- [X] b\r\n";
        let checklist = parse(source);
        assert_eq!(checklist.title.as_deref(), Some("T"));
        assert_eq!(texts(&checklist), ["a wrapped", "b"]);
        let a = &checklist.items[0];
        assert_eq!(&source[a.box_range.clone()], "[ ]");
        assert_eq!(a.line, 3);
        assert_eq!(&source[a.line_end..a.line_end + 2], "\r\n");
        assert!(source[..a.line_end].ends_with("wrapped"));
        assert_eq!(a.display, "a wrapped");
        let b = &checklist.items[1];
        assert_eq!(&source[b.box_range.clone()], "[X]");
        assert_eq!((b.line, b.claimed), (5, true));
    }

    #[test]
    fn lone_cr_line_endings_count_as_lines() {
        let source = "# T\r\r- [ ] a\r- [x] b\r";
        let checklist = parse(source);
        let lines: Vec<usize> = checklist.items.iter().map(|item| item.line).collect();
        assert_eq!(lines, [3, 4]);
        assert_eq!(
            &source[checklist.items[0].line_end..=checklist.items[0].line_end],
            "\r"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let deep_list: String = (0..2000)
            .map(|depth| format!("{}- [ ] level {depth}\n", "  ".repeat(depth)))
            .collect();
        let deep_quote = format!("{}- [x] deep\n", "> ".repeat(5000));
        let deep_emphasis = format!("- [ ] {}x{}\n", "*_".repeat(3000), "_*".repeat(3000));
        let inputs = [
            "",
            "\u{feff}",
            "\u{feff}\u{feff}- [ ] double bom",
            "- [",
            "- [x",
            "- [ ]",
            "[x]",
            "```\n- [x] unterminated fence",
            "~~~\n- [ ] tilde\n",
            "- [ ] a\n  ```\n  - [x] fence inside item never closed",
            "<!-- - [ ] in a comment",
            "<details>\n- [ ] in html\n</details>\n\n- [ ] after",
            "| a |\n|---|\n| - [ ] cell |",
            "# \n## \n### \n- [ ] under empty headings",
            "\r\n\r\r\n- [ ]\r",
            "- [ ] é\u{301}\u{200b}\u{0}\u{90}🚀",
            "1. [x]\n   1. [ ]\n      1. [x]",
            "* * *\n- - - [ ] nested markers",
            "[^1]: - [ ] footnote\n\n- [ ] x[^1]",
            &deep_list,
            &deep_quote,
            &deep_emphasis,
        ];
        for input in inputs {
            let checklist = parse(input);
            for item in &checklist.items {
                assert!(input.get(item.box_range.clone()).is_some(), "{input:?}");
                assert!(item.line_end <= input.len(), "{input:?}");
                assert!(item.line >= 1, "{input:?}");
                assert!(
                    item.parent
                        .is_none_or(|parent| parent < checklist.items.len())
                );
            }
        }
        assert_eq!(parse(&deep_list).items.len(), 2000);
        assert_eq!(parse("\u{feff}").items.len(), 0);
    }
}
