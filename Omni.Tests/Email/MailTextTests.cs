using AngleSharp.Html.Parser;
using Omni.Email;

namespace Omni.Tests.Email;

/// <summary>Text of hostile HTML: the parser never sees a deep tree, and the walk has no recursion to overflow.</summary>
public sealed class MailTextTests
{
    [Fact]
    public void HtmlNestedTensOfThousandsOfLevelsDeepIsCutAndTheTextMarked()
    {
        var html = "<p>Início</p>" + string.Concat(Enumerable.Repeat("<div><b>", 30_000)) + "fundo";

        var text = MailText.FromHtml(html);

        Assert.StartsWith("Início", text, StringComparison.Ordinal);
        Assert.EndsWith(MailText.TruncatedMark, text, StringComparison.Ordinal);
        Assert.DoesNotContain("fundo", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ManyParagraphsSideBySideAreNotMistakenForNesting()
    {
        var html = string.Concat(Enumerable.Range(0, 3_000).Select(i => $"<p>linha {i}<br><img src=\"cid:x\"></p>")) + "<table><tr><td>fim</td></tr></table>";

        var text = MailText.FromHtml(html);

        Assert.EndsWith("fim", text, StringComparison.Ordinal);
        Assert.Contains("linha 2999", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TheTextWalkKeepsItsOwnStackSoNoDepthCanOverflowIt()
    {
        // Deeper than parsing ever nests (AngleSharp stops at 511), built by hand; the walk then runs on a thread whose
        // stack a recursive walk of this depth would overflow.
        var document = new HtmlParser().ParseDocument("<html><body></body></html>");
        AngleSharp.Dom.INode parent = document.Body!;
        const int depth = 12_000;
        for (var i = 0; i < depth; i++)
        {
            parent = parent.AppendChild(document.CreateElement(i % 2 == 0 ? "span" : "b"));
        }

        parent.AppendChild(document.CreateTextNode("fundo"));

        string? text = null;
        var body = document.Body!;
        var thread = new Thread(() => text = MailText.FromNode(body, int.MaxValue), maxStackSize: 128 * 1024);
        thread.Start();
        thread.Join();

        Assert.Equal("fundo", text);
    }

    [Fact]
    public void TheWalkStopsAfterItsNodeBudgetAndSaysSo()
    {
        var document = new HtmlParser().ParseDocument(string.Concat(Enumerable.Range(0, 100).Select(i => $"<span>{i} </span>")));

        var text = MailText.FromNode(document.Body!, maxNodes: 10);

        Assert.Equal("0 1 2 3 4\n" + MailText.TruncatedMark, text);
    }

    [Fact]
    public void ANestedSignatureIsCutBeforeItIsParsed()
    {
        var html = "<b>Acme</b>" + string.Concat(Enumerable.Repeat("<b>", 10_000)) + "fundo";

        var sanitized = SignatureSanitizer.Sanitize(html);

        Assert.StartsWith("<b>Acme</b>", sanitized, StringComparison.Ordinal);
        Assert.True(sanitized.Split("<b>").Length - 1 <= SignatureSanitizer.MaxDepth + 1, $"{sanitized.Split("<b>").Length - 1} <b> kept");
        Assert.DoesNotContain("fundo", sanitized, StringComparison.Ordinal);
    }
}
