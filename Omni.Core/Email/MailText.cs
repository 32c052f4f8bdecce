using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace Omni.Email;

/// <summary>
/// Plain text of an HTML body (for the text part of a reply and for mail that came only as HTML). The work is
/// bounded whatever the sender wrote: HTML parsing grows faster than the input when tags nest deeply (tens of
/// thousands of levels took tens of seconds), so only the first <see cref="MaxHtmlChars"/> characters,
/// <see cref="MaxTags"/> tags and <see cref="MaxDepth"/> levels are parsed, at most <see cref="MaxNodes"/> nodes are walked, and the walk keeps its
/// own stack, so no depth can overflow the thread's. Text cut short ends with <see cref="TruncatedMark"/>.
/// </summary>
public static class MailText
{
    public const int MaxHtmlChars = 512 * 1024;
    public const int MaxTags = 20_000;
    public const int MaxDepth = 256;
    public const int MaxNodes = 50_000;
    public const string TruncatedMark = "[…]";

    // Elements that never hold others (void) or that the next sibling closes: they add no nesting level.
    private static readonly HashSet<string> Flat = new(StringComparer.OrdinalIgnoreCase) { "br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source", "p", "li", "td", "th", "tr", "dt", "dd", "option" };

    private static readonly HashSet<string> Blocks = new(StringComparer.OrdinalIgnoreCase) { "P", "DIV", "TR", "LI", "H1", "H2", "H3", "H4", "H5", "H6", "TABLE", "BLOCKQUOTE", "PRE", "UL", "OL" };

    public static string FromHtml(string html)
    {
        var bounded = Bound(html, MaxHtmlChars, MaxTags, MaxDepth);
        var document = new HtmlParser().ParseDocument(bounded);
        return FromNode(document.Body ?? (INode)document.DocumentElement, MaxNodes, truncated: bounded.Length < html.Length);
    }

    /// <summary>
    /// The longest prefix of <paramref name="html"/> with at most <paramref name="maxChars"/> characters and
    /// <paramref name="maxTags"/> tags, nesting at most <paramref name="maxDepth"/> levels by a cheap count of open
    /// and close tags (void and implicitly closed elements do not nest), so the parser never sees a deep tree.
    /// </summary>
    public static string Bound(string html, int maxChars, int maxTags, int maxDepth)
    {
        var end = Math.Min(html.Length, maxChars);
        int tags = 0, depth = 0;
        for (var i = html.IndexOf('<', 0, end); i >= 0 && i + 1 < end; i = html.IndexOf('<', i + 1, end - i - 1))
        {
            var next = html[i + 1];
            if (next == '/')
            {
                depth = Math.Max(0, depth - 1);
                continue;
            }

            if (!char.IsAsciiLetter(next))
            {
                continue;
            }

            var nameEnd = i + 1;
            while (nameEnd < end && char.IsAsciiLetterOrDigit(html[nameEnd]))
            {
                nameEnd++;
            }

            var close = html.IndexOf('>', nameEnd, end - nameEnd);
            var nests = !Flat.Contains(html[(i + 1)..nameEnd]) && !(close > 0 && html[close - 1] == '/');
            if (++tags > maxTags || (nests && ++depth > maxDepth))
            {
                end = i;
                break;
            }
        }

        return end == html.Length ? html : html[..end];
    }

    /// <summary>The text under <paramref name="root"/>, from at most <paramref name="maxNodes"/> nodes, in document order.</summary>
    internal static string FromNode(INode root, int maxNodes, bool truncated = false)
    {
        var sb = new StringBuilder();
        // A null entry stands for the line break that closes a block once its children are done.
        var pending = new Stack<INode?>();
        PushChildren(root, pending);
        var walked = 0;
        while (pending.TryPop(out var node))
        {
            if (node is null)
            {
                sb.Append('\n');
                continue;
            }

            if (++walked > maxNodes)
            {
                truncated = true;
                break;
            }

            switch (node)
            {
                case IText text:
                    sb.Append(text.Data);
                    break;
                case IElement { TagName: "BR" }:
                    sb.Append('\n');
                    break;
                case IElement { TagName: "SCRIPT" or "STYLE" or "HEAD" }:
                    break;
                case IElement e:
                    if (Blocks.Contains(e.TagName))
                    {
                        sb.Append('\n');
                        pending.Push(null);
                    }

                    PushChildren(e, pending);
                    break;
            }
        }

        var lines = sb.ToString().Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => string.Join(' ', l.Split([' ', '\t', '\u00a0'], StringSplitOptions.RemoveEmptyEntries)));
        var result = string.Join('\n', lines).Trim('\n');
        return truncated ? (result.Length == 0 ? TruncatedMark : result + "\n" + TruncatedMark) : result;
    }

    private static void PushChildren(INode node, Stack<INode?> pending)
    {
        var children = node.ChildNodes;
        for (var i = children.Length - 1; i >= 0; i--)
        {
            pending.Push(children[i]);
        }
    }
}
