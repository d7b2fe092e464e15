enum Bench { static func run(arguments: [String]) throws { fatalError("todo") } }
