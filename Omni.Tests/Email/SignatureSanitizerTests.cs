using Omni.Email;

namespace Omni.Tests.Email;

/// <summary>The signature keeps what a person formats and loses everything that could run.</summary>
public sealed class SignatureSanitizerTests
{
    private const string Png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

    [Theory]
    [InlineData("<b>Acme</b>", "<b>Acme</b>")]
    [InlineData("<strong>Acme</strong>", "<strong>Acme</strong>")]
    [InlineData("<i>Suporte</i>", "<i>Suporte</i>")]
    [InlineData("<em>Suporte</em>", "<em>Suporte</em>")]
    [InlineData("<u>Suporte</u>", "<u>Suporte</u>")]
    [InlineData("<p style=\"text-align:center\">x</p>", "text-align: center")]
    [InlineData("<p align=\"right\">x</p>", "align=\"right\"")]
    [InlineData("<span style=\"font-size:18px\">x</span>", "font-size: 18px")]
    [InlineData("<span style=\"color:#336699\">x</span>", "color: rgba(51, 102, 153, 1)")]
    [InlineData("<span style=\"background-color:yellow\">x</span>", "background-color: rgba(255, 255, 0, 1)")]
    [InlineData("<font size=\"2\" color=\"red\" face=\"Arial\">x</font>", "<font size=\"2\" color=\"red\" face=\"Arial\">")]
    [InlineData("<img src=\"https://acme.example/logo.png\" width=\"120\" alt=\"Acme\">", "<img src=\"https://acme.example/logo.png\" width=\"120\" alt=\"Acme\">")]
    [InlineData("<img src=\"" + Png + "\">", "src=\"" + Png + "\"")]
    [InlineData("<img src=\"cid:logo\">", "src=\"cid:logo\"")]
    [InlineData("<a href=\"https://acme.example\">site</a>", "<a href=\"https://acme.example\">site</a>")]
    [InlineData("<a href=\"mailto:suporte@acme.example\">mail</a>", "href=\"mailto:suporte@acme.example\"")]
    [InlineData("<table><tr><td style=\"padding:4px\">x</td></tr></table>", "<td style=\"padding: 4px\">x</td>")]
    public void FormattingIsKept(string html, string kept) => Assert.Contains(kept, SignatureSanitizer.Sanitize(html), StringComparison.Ordinal);

    [Theory]
    [InlineData("<b>ok</b><script>alert(1)</script>", "<script")]
    [InlineData("<img src=\"https://a.example/x.png\" onerror=\"alert(1)\">", "onerror")]
    [InlineData("<p onclick=\"alert(1)\">x</p>", "onclick")]
    [InlineData("<body onload=\"alert(1)\">x</body>", "onload")]
    [InlineData("<a href=\"javascript:alert(1)\">x</a>", "javascript:")]
    [InlineData("<a href=\"JaVaScRiPt:alert(1)\">x</a>", "alert")]
    [InlineData("<img src=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">", "data:text/html")]
    [InlineData("<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+\">", "data:image/svg")]
    [InlineData("<iframe src=\"https://evil.example\"></iframe>", "<iframe")]
    [InlineData("<form action=\"https://evil.example\"><input name=\"p\"></form>", "<form")]
    [InlineData("<object data=\"x.swf\"></object>", "<object")]
    [InlineData("<p style=\"background:url(javascript:alert(1))\">x</p>", "javascript")]
    [InlineData("<style>p{color:red}</style><p>x</p>", "<style")]
    [InlineData("<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">", "<meta")]
    public void AnythingThatCouldRunIsDropped(string html, string dropped) =>
        Assert.DoesNotContain(dropped, SignatureSanitizer.Sanitize(html), StringComparison.OrdinalIgnoreCase);

    [Fact]
    public void SanitizingTwiceChangesNothing()
    {
        const string html = "<p style=\"text-align:center;color:#336699\"><b>Acme</b> <i>Suporte</i></p><script>alert(1)</script><img src=\"https://acme.example/logo.png\" onerror=\"alert(2)\">";
        var once = SignatureSanitizer.Sanitize(html);

        Assert.Equal(once, SignatureSanitizer.Sanitize(once));
    }
}
