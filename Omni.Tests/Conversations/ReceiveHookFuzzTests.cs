using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Conversations;

/// <summary>Thousands of generated bad bodies (fixed seed, so a failure replays): never a 5xx, every 4xx a problem document.</summary>
public sealed class ReceiveHookFuzzTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const int Seed = 20261125;
    private const int Cases = 3000;
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static readonly string[] Fields = ["externalId", "contact", "conversationExternalId", "text", "attachments", "metadata"];

    private static JsonObject Valid(Random random, int i) => new()
    {
        ["externalId"] = $"fuzz-{i}",
        ["contact"] = new JsonObject { ["externalId"] = $"c-{random.Next(20)}", ["name"] = "Maria", ["email"] = "m@example.com", ["phone"] = "+5511999990000" },
        ["conversationExternalId"] = random.Next(3) == 0 ? $"t-{random.Next(5)}" : null,
        ["text"] = "hello",
        ["attachments"] = random.Next(4) == 0
            ? new JsonArray(new JsonObject { ["fileName"] = "a.txt", ["contentType"] = "text/plain", ["contentBase64"] = "aGVsbG8=" })
            : null,
        ["metadata"] = new JsonObject { ["k"] = "v" },
    };

    private static JsonNode? RandomValue(Random random, int depth = 0) => random.Next(depth > 2 ? 6 : 9) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(int.MinValue, int.MaxValue)),
        2 => JsonValue.Create(random.NextDouble() * 1e300),
        3 => JsonValue.Create(random.Next(2) == 0),
        4 => JsonValue.Create(RandomString(random, random.Next(0, 40))),
        5 => JsonValue.Create(new string('x', random.Next(150, 1200))),
        6 => new JsonArray(Enumerable.Range(0, random.Next(4)).Select(_ => RandomValue(random, depth + 1)).ToArray()),
        7 => new JsonObject(Enumerable.Range(0, random.Next(4)).Select(k => KeyValuePair.Create($"f{k}", RandomValue(random, depth + 1)))),
        _ => new JsonObject { ["externalId"] = RandomValue(random, depth + 1), ["fileName"] = RandomValue(random, depth + 1), ["contentType"] = RandomValue(random, depth + 1), ["contentBase64"] = RandomValue(random, depth + 1) },
    };

    private static string RandomString(Random random, int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = random.Next(6) switch
            {
                0 => (char)random.Next(0, 32),
                1 => (char)random.Next(0xD800, 0xE000),
                2 => (char)random.Next(0x80, 0x800),
                3 => "\"\\/{}[]:,"[random.Next(9)],
                _ => (char)random.Next(32, 127),
            };
        }

        return new string(chars);
    }

    private static (string Name, HttpContent Content) Generate(Random random, int i)
    {
        var body = Valid(random, i);
        switch (random.Next(10))
        {
            case 0:
            {
                var text = body.ToJsonString();
                return ("truncated", Json(text[..random.Next(text.Length)]));
            }

            case 1:
            {
                var bytes = new byte[random.Next(1, 300)];
                random.NextBytes(bytes);
                var content = new ByteArrayContent(bytes);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                return ("random bytes", content);
            }

            case 2:
            {
                // Valid JSON around an invalid UTF-8 sequence.
                var prefix = Encoding.UTF8.GetBytes("{\"externalId\":\"e");
                var bad = new byte[] { 0xC3, 0x28, 0xA0, 0xA1, 0xE2, 0x28, 0xA1, 0xF0, 0x28, 0x8C, 0xBC, 0xFF }[..random.Next(1, 12)];
                var content = new ByteArrayContent([.. prefix, .. bad, .. Encoding.UTF8.GetBytes("\",\"contact\":{\"externalId\":\"c\"},\"text\":\"t\"}")]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                return ("bad UTF-8", content);
            }

            case 3:
            {
                var depth = random.Next(50, 3000);
                return ("deep", Json("{\"externalId\":\"e\",\"metadata\":" + new string('[', depth) + new string(']', depth) + "}"));
            }

            case 4:
                // Lone surrogates written as JSON escapes.
                return ("escaped surrogates", Json($"{{\"externalId\":\"e{i}\\ud800\",\"contact\":{{\"externalId\":\"\\udc00c\"}},\"text\":\"\\ud83d x\"}}"));

            case 5:
            {
                var content = new StringContent(body.ToJsonString(), Encoding.UTF8);
                content.Headers.ContentType = new MediaTypeHeaderValue(new[] { "text/plain", "application/xml", "multipart/form-data", "application/x-www-form-urlencoded" }[random.Next(4)]);
                return ("wrong content type", content);
            }

            case 6 when i % 50 == 0:
                body["text"] = new string('a', 1024 * 1024 + random.Next(1000));
                return ("oversize", Json(body.ToJsonString()));

            default:
            {
                // Replace one to three fields (or nested ones) with values of random types and sizes.
                for (var k = random.Next(1, 4); k > 0; k--)
                {
                    var field = Fields[random.Next(Fields.Length)];
                    if (field == "contact" && random.Next(2) == 0)
                    {
                        body["contact"] = new JsonObject { ["externalId"] = RandomValue(random), ["email"] = RandomValue(random), ["name"] = RandomValue(random) };
                    }
                    else if (field == "attachments" && random.Next(2) == 0)
                    {
                        body["attachments"] = new JsonArray(new JsonObject
                        {
                            ["fileName"] = RandomValue(random),
                            ["contentType"] = random.Next(2) == 0 ? RandomValue(random) : "image/png",
                            ["contentBase64"] = random.Next(2) == 0 ? RandomValue(random) : Convert.ToBase64String(new byte[random.Next(0, 4000)]),
                        });
                    }
                    else
                    {
                        body[field] = RandomValue(random);
                    }
                }

                return ("wrong types", Json(body.ToJsonString()));
            }
        }
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    [Fact]
    public async Task ThousandsOfMalformedBodiesNeverGetAServerError()
    {
        var channel = await _app.OmniChannelAsync();
        var random = new Random(Seed);
        var cases = Enumerable.Range(0, Cases).Select(i => (Index: i, Case: Generate(random, i))).ToList();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var client = _app.As(channel.ApiKey);

        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, cancellationToken) =>
        {
            HttpResponseMessage response;
            try
            {
                response = await client.PostAsync("/api/receive_hook", c.Case.Content, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                // A reset instead of an answer is a failure too, and its message says which case it was.
                failures.Add($"case {c.Index} ({c.Case.Name}): no answer: {e.Message} {e.InnerException?.Message}");
                return;
            }

            using var _ = response;
            var status = (int)response.StatusCode;
            statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            if (status >= 500)
            {
                failures.Add($"case {c.Index} ({c.Case.Name}): {status} {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
            else if (status >= 400 && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                failures.Add($"case {c.Index} ({c.Case.Name}): {status} without a problem document");
            }
        });

        Assert.True(failures.IsEmpty, $"{failures.Count} failures, e.g.: {string.Join("\n", failures.Take(10))}");
        // The generator must reach both sides: rejected bodies and ones that were accepted.
        Assert.True(statuses.Keys.Any(s => s >= 400) && statuses.Keys.Any(s => s is 200 or 202), string.Join(", ", statuses.Select(p => $"{p.Key}: {p.Value}")));
        Assert.Contains(413, statuses.Keys);
        Assert.Contains(415, statuses.Keys);
    }
}
