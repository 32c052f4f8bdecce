using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace Omni.Email;

/// <summary>Plain text of an HTML body (for the text part of a reply and for mail that came only as HTML).</summary>
public static class MailText
{
    private static readonly HashSet<string> Blocks = new(StringComparer.OrdinalIgnoreCase) { "P", "DIV", "TR", "LI", "H1", "H2", "H3", "H4", "H5", "H6", "TABLE", "BLOCKQUOTE", "PRE", "UL", "OL" };

    public static string FromHtml(string html)
    {
        var document = new HtmlParser().ParseDocument(html);
        var sb = new StringBuilder();
        Walk(document.Body ?? (INode)document.DocumentElement, sb);
        var lines = sb.ToString().Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => string.Join(' ', l.Split([' ', '\t', '\u00a0'], StringSplitOptions.RemoveEmptyEntries)));
        return string.Join('\n', lines).Trim('\n');
    }

    private static void Walk(INode node, StringBuilder sb)
    {
        foreach (var child in node.ChildNodes)
        {
            switch (child)
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
                    var block = Blocks.Contains(e.TagName);
                    if (block)
                    {
                        sb.Append('\n');
                    }

                    Walk(e, sb);
                    if (block)
                    {
                        sb.Append('\n');
                    }

                    break;
            }
        }
    }
}
