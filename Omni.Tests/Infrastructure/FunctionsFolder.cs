using System.Text.Json.Nodes;
using Omni.Functions.Triggers;

namespace Omni.Tests.Infrastructure;

/// <summary>Copies of the app's function.json files, for tests that run a timer faster than in production.</summary>
internal static class FunctionsFolder
{
    /// <summary>A copy of every function.json with <paramref name="function"/>'s timer on <paramref name="schedule"/>.</summary>
    public static string WithSchedule(string function, string schedule) => WithSchedules((function, schedule));

    /// <summary>A copy of every function.json with each named timer on its schedule.</summary>
    public static string WithSchedules(params (string Function, string Schedule)[] timers)
    {
        var dir = Directory.CreateTempSubdirectory("omni-functions-").FullName;
        foreach (var source in Directory.GetDirectories(FunctionManifest.DefaultDirectory))
        {
            var target = Directory.CreateDirectory(Path.Combine(dir, Path.GetFileName(source))).FullName;
            var json = File.ReadAllText(Path.Combine(source, "function.json"));
            if (timers.FirstOrDefault(t => t.Function == Path.GetFileName(source)) is { Function: not null } timer)
            {
                var node = JsonNode.Parse(json)!;
                node["bindings"]![0]!["schedule"] = timer.Schedule;
                json = node.ToJsonString();
            }

            File.WriteAllText(Path.Combine(target, "function.json"), json);
        }

        return dir;
    }
}
