namespace Omni.MercadoLivre;

/// <summary>What a Mercado Livre conversation is about, read back from its conversation key.</summary>
internal sealed record MercadoLivreThread(bool IsQuestion, string Id, string? BuyerId);

/// <summary>
/// How Mercado Livre's threads map onto conversations: one per item and buyer (pre-sale questions), one per pack
/// (post-sale messages). Each has a conversation key, and a contact id of its own so the buyer's open conversation
/// about one item never takes in their questions about another, or their messages about an order.
/// </summary>
internal static class MercadoLivreThreads
{
    private const string QuestionPrefix = "mercadolivre:question:";
    private const string PackPrefix = "mercadolivre:pack:";

    /// <summary>The external id a question is stored under as an inbound message.</summary>
    public static string QuestionExternalId(string questionId) => $"question:{questionId}";

    public static string QuestionKey(string itemId, string buyerId) => $"{QuestionPrefix}{itemId}:{buyerId}";

    public static string QuestionContact(string itemId, string buyerId) => $"{buyerId}:{itemId}";

    public static string PackKey(string packId, string buyerId) => $"{PackPrefix}{packId}:{buyerId}";

    public static string PackContact(string packId, string buyerId) => $"{buyerId}:pack:{packId}";

    /// <summary>The question thread (item id) or pack thread (pack id) behind a conversation key; null for anything else.</summary>
    public static MercadoLivreThread? Parse(string? conversationKey) => conversationKey switch
    {
        { } k when k.StartsWith(QuestionPrefix, StringComparison.Ordinal) && k[QuestionPrefix.Length..].Split(':') is [var item, var buyer] => new(true, item, buyer),
        { } k when k.StartsWith(PackPrefix, StringComparison.Ordinal) && k[PackPrefix.Length..].Split(':') is [var pack, var buyer] => new(false, pack, buyer),
        _ => null,
    };
}
